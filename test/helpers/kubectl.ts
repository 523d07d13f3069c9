// Real kubectl as the client. Always asynchronous: the gateway under test runs in this same process, and a
// synchronous spawn would block it.
import { spawn } from 'node:child_process';

export interface KubectlResult { code: number; stdout: string; stderr: string }

export function kubectl(kubeconfig: string, args: string[], opts: { input?: string; timeoutMs?: number; netns?: string } = {}): Promise<KubectlResult> {
  const [cmd, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, 'kubectl', `--kubeconfig=${kubeconfig}`, ...args]] : ['kubectl', [`--kubeconfig=${kubeconfig}`, ...args]];
  return new Promise((resolve) => {
    const env = { ...process.env, KUBECONFIG: '', KUBECACHEDIR: '/tmp/kgate-kubectl-cache-' + process.pid, HOME: process.env.HOME ?? '/root' };
    const child = spawn(cmd as string, argv as string[], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}

/** Start a long-running kubectl (e.g. `get -w`) and collect its output until stopped. */
export function kubectlStream(kubeconfig: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn('kubectl', [`--kubeconfig=${kubeconfig}`, ...args], { env: { ...process.env, KUBECONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  let stdout = '', stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c; });
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  return {
    get stdout() { return stdout; },
    get stderr() { return stderr; },
    async waitFor(re: RegExp, timeoutMs = 20_000): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) { if (re.test(stdout)) return true; await new Promise((r) => setTimeout(r, 100)); }
      return false;
    },
    stop() { child.kill('SIGTERM'); },
    exited,
  };
}
