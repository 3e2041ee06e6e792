// The talk's story, told on a swarm that machine made: a declarative service and where its
// replicas run, a published port answering from every node, a scale from 3 to 6, a compose v3
// stack with deploy settings and a secret read inside a replica, and the routing mesh where
// the kernel has IPVS. `npm run demo` tells it; an e2e test runs the same steps.

export interface StoryContext {
  /** Machine names; the first is a manager. */
  nodes: string[];
  /** An image on every node (no registry here). */
  image: string;
  /** Whether the nodes' kernels have IPVS (VMs do; system containers do not). */
  routingMesh: boolean;
  /** Runs a bash script with the docker CLI pointed at the node; its stdout, or throws. */
  onNode(node: string, script: string): Promise<string>;
  ipOf(node: string): Promise<string>;
  /** An HTTP GET from this computer; the body. */
  get(url: string): Promise<string>;
  step(text: string): void;
  show(text: string): void;
  /** A folder for the stack's files. */
  workDir: string;
}

export interface StoryResult {
  /** Node -> the web replicas it runs. */
  placement: Record<string, number>;
  /** Node -> what its published port answered. */
  answers: Record<string, string>;
  /** Node -> tasks of the scaled service. */
  scaled: Record<string, number>;
  /** What a replica read from /run/secrets/greeting. */
  secret: string;
  /** How the port was published: through the routing mesh, or on each node. */
  publish: 'ingress' | 'host';
  /** Node -> what the mesh answered there (ingress only). */
  mesh: Record<string, string>;
}

const WEB_PORT = 8080;
/** The services the story makes, besides its stack "demo". */
const STORY_SERVICES = ['web', 'worker', 'mesh'];
const MESH_PORT = 8081;
export const GREETING = 'hello from a docker secret';

/** Waits until the service runs `want` tasks (docker reports "N/N"). */
// Polled four times a second: a second's poll added half a second to every wait on average.
const waitReplicas = (service: string, want: number) =>
  `for i in $(seq 720); do case "$(docker service ls --filter name=${service} --format '{{.Replicas}}')" in ${want}/${want}*) exit 0;; esac; sleep 0.25; done; ` +
  `echo "${service} did not reach ${want} replicas" >&2; docker service ps --no-trunc ${service} >&2; exit 1`;

/**
 * Removes what an earlier telling left on the swarm (its services, stack, secret and
 * network) and waits until every node has let go of their containers and ports, so the
 * story can be told again on the same nodes.
 */
export async function resetStory(ctx: Pick<StoryContext, 'nodes' | 'onNode'>): Promise<void> {
  const [manager] = ctx.nodes;
  if (!manager) return;
  const gone = (check: string, what: string) =>
    `for i in $(seq 240); do [ -z "$(${check})" ] && exit 0; sleep 0.25; done; echo "${what} still there after 60 s" >&2; exit 1`;
  await ctx.onNode(manager, `docker stack rm demo >/dev/null 2>&1 || true; docker service rm ${STORY_SERVICES.join(' ')} >/dev/null 2>&1 || true`);
  // Their replicas would take the 10 s grace a PID 1 that ignores SIGTERM gets: the
  // containers go at once instead (their services are gone already). Only the story's own:
  // the swarm may run services of the user's.
  const tasks = `docker ps -a --filter label=com.docker.swarm.task --format '{{.ID}} {{.Label "com.docker.swarm.service.name"}}' | awk '$2 ~ /^(${STORY_SERVICES.join('|')}|demo_.*)$/ { print $1 }'`;
  await Promise.all(
    ctx.nodes.map((n) => ctx.onNode(n, `t=$(${tasks}); [ -z "$t" ] || docker rm -f $t >/dev/null 2>&1 || true\n${gone(tasks, `the earlier run's containers on ${n} are`)}`)),
  );
  await ctx.onNode(
    manager,
    gone(`docker secret ls -q --filter name=demo_; docker network ls -q --filter label=com.docker.stack.namespace=demo`, "the earlier run's secret and network are"),
  );
}

const count = (lines: string) => {
  const out: Record<string, number> = {};
  for (const n of lines.split('\n').filter(Boolean)) out[n] = (out[n] ?? 0) + 1;
  return out;
};

export async function tellStory(ctx: StoryContext): Promise<StoryResult> {
  const [manager] = ctx.nodes;
  if (!manager) throw new Error('the story needs at least one node');
  const m = (script: string) => ctx.onNode(manager, script);
  const n = ctx.nodes.length;
  const publish = ctx.routingMesh ? 'ingress' : 'host';

  ctx.step(`A declarative service: ${n} replicas of a web server, one per node, port ${WEB_PORT} published (${publish} mode)`);
  await m(
    `docker service create -d --name web --replicas ${n} --replicas-max-per-node 1 --env NODE='{{.Node.Hostname}}' ` +
      `--publish mode=${publish},target=${WEB_PORT},published=${WEB_PORT} ${ctx.image} ${SERVE} >/dev/null 2>&1; ${waitReplicas('web', n)}`,
  );
  const where = await m(`docker service ps web --filter desired-state=running --format '{{.Node}}'`);
  ctx.show(`$ docker service ps web\n${await m(`docker service ps web --filter desired-state=running --format 'table {{.Name}}\\t{{.Node}}\\t{{.CurrentState}}'`)}`);
  const placement = count(where);

  ctx.step(`The published port answers from every node`);
  const answers: Record<string, string> = {};
  for (const node of ctx.nodes) {
    const url = `http://${await ctx.ipOf(node)}:${WEB_PORT}/`;
    answers[node] = (await ctx.get(url)).trim();
    ctx.show(`$ curl ${url}\n${answers[node]}`);
  }

  ctx.step('Scaling a service from 3 to 6 replicas');
  await m(`docker service create -d --name worker --replicas 3 ${ctx.image} /bin/busybox sleep 86400 >/dev/null 2>&1; ${waitReplicas('worker', 3)}`);
  ctx.show('$ docker service scale worker=6');
  await m(`docker service scale -d worker=6 >/dev/null; ${waitReplicas('worker', 6)}`);
  const scaled = count(await m(`docker service ps worker --filter desired-state=running --format '{{.Node}}'`));
  ctx.show(Object.entries(scaled).map(([node, k]) => `${node}: ${k} task(s)`).join('\n'));

  ctx.step('A compose v3 stack: deploy settings (replicas, resources, restart policy) and a secret');
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  writeFileSync(join(ctx.workDir, 'greeting.txt'), `${GREETING}\n`);
  const stack = join(ctx.workDir, 'stack.yml');
  writeFileSync(
    stack,
    [
      'version: "3.8"',
      'services:',
      '  app:',
      `    image: ${ctx.image}`,
      '    command: ["/bin/busybox", "sleep", "86400"]',
      '    secrets: [greeting]',
      '    deploy:',
      '      replicas: 2',
      '      resources:',
      '        limits: {cpus: "0.50", memory: 64M}',
      '        reservations: {memory: 16M}',
      '      restart_policy: {condition: on-failure, delay: 2s, max_attempts: 3}',
      'secrets:',
      '  greeting:',
      '    file: ./greeting.txt',
      '',
    ].join('\n'),
  );
  ctx.show(`$ docker stack deploy -c stack.yml demo`);
  await m(`cd ${ctx.workDir} && docker stack deploy --detach=true -c stack.yml demo >/dev/null 2>&1; ${waitReplicas('demo_app', 2)}`);
  const node = (await m(`docker service ps demo_app --filter desired-state=running --format '{{.Node}}' | head -1`)).trim();
  const secret = (
    await ctx.onNode(node, `docker exec "$(docker ps -q --filter label=com.docker.swarm.service.name=demo_app | head -1)" /bin/busybox cat /run/secrets/greeting`)
  ).trim();
  ctx.show(`$ docker exec <a demo_app replica on ${node}> cat /run/secrets/greeting\n${secret}`);

  let mesh: Record<string, string> = {};
  if (ctx.routingMesh) {
    mesh = await routingMesh(ctx);
  } else {
    ctx.step('The routing mesh is skipped here: system containers share the host kernel, which has no IPVS; the web service published in host mode instead (npm run demo -- --driver qemu shows the mesh)');
  }
  return { placement, answers, scaled, secret, publish, mesh };
}

const SERVE = `/bin/busybox sh -c 'mkdir -p /www && echo "$NODE" > /www/index.html && exec /bin/busybox httpd -f -p ${WEB_PORT} -h /www'`;

/** One replica published through the ingress network: every node's port answers, the replica's node replying. Node -> answer. */
export async function routingMesh(ctx: StoryContext): Promise<Record<string, string>> {
  const [manager] = ctx.nodes;
  ctx.step(`The routing mesh: one replica, and port ${MESH_PORT} answers on every node`);
  await ctx.onNode(
    manager!,
    `docker service create -d --name mesh --replicas 1 --env NODE='{{.Node.Hostname}}' --publish published=${MESH_PORT},target=${WEB_PORT} ` +
      `${ctx.image} ${SERVE} >/dev/null 2>&1; ${waitReplicas('mesh', 1)}`,
  );
  const mesh: Record<string, string> = {};
  for (const nd of ctx.nodes) {
    const url = `http://${await ctx.ipOf(nd)}:${MESH_PORT}/`;
    mesh[nd] = (await ctx.get(url)).trim();
    ctx.show(`$ curl ${url}\n${mesh[nd]}`);
  }
  return mesh;
}
