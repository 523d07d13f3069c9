// The few host facts kgate takes from its process environment. None of them configures the gateway (gateway.yaml and
// flags do): they say where the user's cache lives (XDG Base Directory Specification: $XDG_CACHE_HOME, else
// ~/.cache) and what environment a child process such as `go build` inherits.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function userCacheHome(): string {
  return process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
}

/** This process's environment with some variables set, for a child process. */
export function childEnvironment(set: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...set };
}
