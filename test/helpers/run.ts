// Run a command asynchronously (the gateway under test shares this process) and collect its output.
import { spawn } from 'node:child_process';

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
