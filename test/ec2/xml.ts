// Just enough XML writing for EC2 Query responses: elements, text escaping, EC2's
// "item" lists.

export type XmlValue = string | number | boolean | null | undefined | XmlValue[] | { [k: string]: XmlValue };

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function toXml(name: string, value: XmlValue): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => toXml('item', v)).join('')}</${name}>`;
  if (typeof value === 'object') return `<${name}>${Object.entries(value).map(([k, v]) => toXml(k, v)).join('')}</${name}>`;
  return `<${name}>${escape(String(value))}</${name}>`;
}

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export function response(action: string, requestId: string, body: Record<string, XmlValue>): string {
  const inner = Object.entries(body).map(([k, v]) => toXml(k, v)).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NS}"><requestId>${requestId}</requestId>${inner}</${action}Response>`;
}

export function errorResponse(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escape(code)}</Code><Message>${escape(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}
