// Start the e2e cluster by hand and leave it running: `node test/cluster/up.ts`, then
// `KGATE_CLUSTER=<root>/cluster.json npx tap test/e2e/...`, and `node test/cluster/down.ts` when done.
import { ensureBinaries } from './binaries.ts';
import { startCluster } from './cluster.ts';

const bin = ensureBinaries(console.log);
if ('missing' in bin) { console.error(`cannot start the cluster: missing ${bin.missing}`); process.exit(1); }
const info = await startCluster(bin, console.log, { detached: true });
// The components keep running after this process exits; it exits once the line is written (a pipe may be slower).
process.stdout.write(`export KGATE_CLUSTER=${info.root}/cluster.json\n`, () => process.exit(0));
