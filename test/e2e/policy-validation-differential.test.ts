// Differential test of policy reading: the same policy files, hand-written and seeded random ones, given to the real
// API server through real kubectl (`kubectl apply --dry-run=server -f FILE`, kubectl's default strict validation,
// as the cluster's admin) and to kgate's RBAC loader. The verdicts must be the same on every file: accepted by both,
// or refused by both; and where kgate refuses, each problem names the file, a line and a field. Dry-run writes
// nothing; every object name carries a fresh prefix, so each apply is a create.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClusterInfo } from '../cluster/cluster.ts';
import { kubectl } from '../helpers/kubectl.ts';
import { generatedCases, handWrittenCases, type PolicyCase } from '../helpers/policy-cases.ts';
import { loadRbacPolicy } from '../../src/authz/rbac.ts';
import { ConfigError, type FileProblem } from '../../src/errors.ts';

const SEED = Number(process.env.KGATE_POLICY_DIFF_SEED ?? 20261202);
const GENERATED = Number(process.env.KGATE_POLICY_DIFF_CASES ?? 120);
const PARALLEL = 3;

/** kubectl without stdin: a run that fails fast must not meet a write to its closed input. */
function kubectlNoInput(kubeconfig: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, KUBECONFIG: '', KUBECACHEDIR: `/tmp/kgate-kubectl-cache-${process.pid}` };
    const child = spawn('kubectl', [`--kubeconfig=${kubeconfig}`, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

/** Why kubectl refused, from its message: which stage, client or server, said no. */
function kubectlReason(stderr: string): string {
  const rules: [RegExp, string][] = [
    [/error parsing|invalid Yaml document separator/, 'kubectl: not readable as YAML/JSON'],
    [/error validating/, 'kubectl: schema check (List, *List, apiVersion/kind)'],
    [/unable to decode/, 'kubectl: metadata of the wrong type'],
    [/resource mapping not found|unable to recognize/, 'kubectl: no such kind in that version'],
    [/resource name may not be empty|invalid resource name|cannot use generate name/, 'kubectl: name'],
    [/is not a list/, 'kubectl: list inside a list'],
    [/strict decoding error/, 'server: unknown field'],
    [/cannot unmarshal|cannot be handled as|cannot parse|parsing time/, 'server: value of the wrong type'],
    [/is invalid/, 'server: validation'],
    [/NotFound.*namespaces/, 'server: namespace not found'],
  ];
  return rules.find(([re]) => re.test(stderr))?.[1] ?? `other: ${stderr.split('\n')[0]}`;
}

const cluster = loadClusterInfo();
if (!cluster) {
  t.test('policy validation differential', { skip: 'no cluster (KGATE_CLUSTER unset)' }, () => {});
} else {
  const admin = cluster.files.adminKubeconfigRbac;
  const run = `kpv${Date.now().toString(36).slice(-6)}`;
  const names = { prefix: run, namespaces: [`${run}-a`, `${run}-b`] };
  const dir = mkdtempSync(join(tmpdir(), 'kgate-policy-diff-'));

  t.before(async () => {
    for (const ns of names.namespaces) {
      const r = await kubectl(admin, ['create', 'namespace', ns]);
      if (r.code !== 0) throw new Error(`cannot create namespace ${ns}: ${r.stderr}`);
    }
  });
  t.teardown(async () => {
    rmSync(dir, { recursive: true, force: true });
    await kubectl(admin, ['delete', 'namespace', ...names.namespaces, '--wait=false']);
  });

  const judge = async (c: PolicyCase) => {
    const path = join(dir, c.file);
    writeFileSync(path, c.text);
    const k = await kubectlNoInput(admin, ['apply', '--dry-run=server', '-f', path]);
    let kgate: { ok: true } | { ok: false; problems: FileProblem[] } | { ok: false; exception: string };
    try {
      loadRbacPolicy(path);
      kgate = { ok: true };
    } catch (err) {
      kgate = err instanceof ConfigError ? { ok: false, problems: err.problems } : { ok: false, exception: (err as Error).stack ?? String(err) };
    }
    return { c, path, kubectl: k, kgate };
  };

  t.test(`kgate judges every policy file as kubectl and kube-apiserver do (seed ${SEED})`, async (t) => {
    const cases = [...handWrittenCases(names), ...generatedCases(SEED, GENERATED, names)];
    t.comment(`${cases.length} files (${cases.length - GENERATED} hand-written, ${GENERATED} generated with seed ${SEED}; KGATE_POLICY_DIFF_SEED to replay)`);
    const results: Awaited<ReturnType<typeof judge>>[] = [];
    for (let i = 0; i < cases.length; i += PARALLEL) results.push(...await Promise.all(cases.slice(i, i + PARALLEL).map(judge)));

    const disagreements: string[] = [];
    const unlocated: string[] = [];
    const summary = new Map<string, number>();
    const count = (k: string) => summary.set(k, (summary.get(k) ?? 0) + 1);
    for (const r of results) {
      const kubeOk = r.kubectl.code === 0;
      if (process.env.KGATE_POLICY_DIFF_VERBOSE) t.comment(`${r.c.file} ${r.c.name}: kubectl ${kubeOk ? 'accepts' : `refuses (${kubectlReason(r.kubectl.stderr)})`}, kgate ${r.kgate.ok ? 'accepts' : 'refuses'}`);
      if ('exception' in r.kgate) { disagreements.push(`${r.c.file} (${r.c.name}): kgate threw instead of refusing: ${r.kgate.exception}`); continue; }
      if (kubeOk !== r.kgate.ok) {
        const kgateSays = r.kgate.ok ? 'accepted' : `refused: ${r.kgate.problems.map((p) => `${p.field ?? ''}: ${p.message}`).join('; ')}`;
        disagreements.push(`${r.c.file} (${r.c.name}): kubectl ${kubeOk ? 'accepted' : `refused: ${r.kubectl.stderr.trim().split('\n').slice(0, 3).join(' | ')}`}; kgate ${kgateSays}\n${r.c.text.slice(0, 600)}`);
        continue;
      }
      if (kubeOk) { count('accepted by both'); continue; }
      count(`refused by both — ${kubectlReason(r.kubectl.stderr)}`);
      if (!r.kgate.ok && 'problems' in r.kgate) {
        for (const p of r.kgate.problems) if (p.file !== r.path || typeof p.line !== 'number' || !p.field) unlocated.push(`${r.c.file} (${r.c.name}): ${JSON.stringify(p)}`);
      }
    }
    t.comment(`verdicts:\n${[...summary].sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${String(v).padStart(4)}  ${k}`).join('\n')}`);
    t.ok(summary.get('accepted by both')! > cases.length * 0.15, 'the files exercise both verdicts');
    t.same(disagreements, [], `kgate and kubectl agree on all ${cases.length} files`);
    t.same(unlocated, [], 'every problem kgate reports names the file, a line and a field');
  });

  t.test('documented differences', async (t) => {
    const other = await judge({ name: 'another kind', file: 'configmap.yaml', text: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${run}-cm}\n` });
    t.equal(other.kubectl.code, 0, 'kubectl applies an object of another kind');
    t.match(other.kgate, { ok: false, problems: [{ field: 'document 1: kind', message: /expected Role, ClusterRole, RoleBinding or ClusterRoleBinding/ }] }, 'kgate refuses it: a policy file holds RBAC objects only');
  });

  t.test('an empty policy file: kubectl has nothing to apply, kgate loads a policy that grants nothing', async (t) => {
    for (const text of ['', '# nothing here\n', '---\n---\n', 'apiVersion: v1\nkind: List\nitems: []\n']) {
      const r = await judge({ name: 'empty', file: 'empty.yaml', text });
      t.match(r.kubectl.stderr, /no objects passed to apply/, `kubectl: ${JSON.stringify(text)}`);
      t.same(r.kgate, { ok: true }, `kgate: ${JSON.stringify(text)}`);
    }
  });
}
