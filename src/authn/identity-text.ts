// What a user name, uid or group from a credential file or a `kgate token|user|cert` flag may hold. kgate carries
// these in HTTP headers (Impersonate-User/-Group/-Uid, X-Remote-*), in audit events and in log lines, so each must
// read back as the same identity everywhere: no control character (a line break would end a header line, NUL and
// the rest are refused by every HTTP stack), no surrounding whitespace (HTTP parsers strip it, so the API server
// would see another name than the one kgate authorized), and a user name that is not empty (no name is no
// identity; kube-apiserver accepts an empty one in a token file, kgate does not).
const CONTROL = /[\x00-\x1f\x7f]/;

export type IdentityPart = 'user name' | 'uid' | 'group';

/** Why `value` cannot be the given part of an identity, or undefined when it can. Never quotes the value. */
export function identityTextProblem(value: string, part: IdentityPart): string | undefined {
  const control = CONTROL.exec(value);
  if (control) {
    const code = `U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    return `the ${part} holds a control character (${code}), which an HTTP header cannot carry`;
  }
  if (part === 'user name' && value.trim() === '') return 'the user name is empty or blank, which is no identity';
  if (/^[ \t]|[ \t]$/.test(value)) return `the ${part} begins or ends with whitespace, which HTTP headers strip`;
  return undefined;
}
