/** The port dockerd listens on for TLS, inside the host (Docker's registered port for it). */
export const DEFAULT_ENGINE_PORT = 2376;
