// Stop a cluster started by up.ts (KGATE_CLUSTER points at its cluster.json).
import { loadClusterInfo, stopCluster } from './cluster.ts';

const info = loadClusterInfo();
if (!info) { console.error('KGATE_CLUSTER does not point at a cluster.json'); process.exit(1); }
await stopCluster(info, { keepLogs: false });
console.log(`stopped the cluster in ${info.root}`);
