// Run a command asynchronously (the gateway under test shares this process) and collect its output.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d; });
    c.stderr.on('data', (d: Buffer) => { out += d; });
    c.on('close', (code) => resolve({ code: code ?? -1, out }));
    c.on('error', (e) => resolve({ code: -1, out: String(e) }));
  });
}

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** The kgate command line as a user runs it, with stdout and stderr apart (asynchronously, like run()). */
export function kgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d; });
    c.stderr.on('data', (d: Buffer) => { stderr += d; });
    c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
