// dev/: what `npm start` (kgate dev) needs beyond the gateway itself: a Kubernetes API server to front when the
// machine has none. It probes the default upstream, and when nothing answers there it runs etcd and a
// kube-apiserver built from the pinned k8s.io/kubernetes module (kube/ at the repository top, cached per version
// in ~/.cache/kgate/), owned by the kgate process that started it. The e2e tier (test/cluster/) shares the build
// and the process bookkeeping from here. Development only: `kgate serve` never starts anything.
export { KUBE_VERSION, BUILD_RECIPE, BUILD_ARGS, BUILD_ENV, KUBE_MODULE_DIR, kubeCacheDir, kubeBinaryPath, kubeBinaryUnavailable, buildKubeBinary, which } from './kube-binaries.ts';
export { startTimeOf, alive, isSame, stopPids, freePort, type ProcessId } from './processes.ts';
export { probeApiServer, type ProbeResult } from './probe.ts';
export { startControlPlane, adoptLeftover, stopLeftover, signalRecordedNow, DevControlPlaneError, type DevControlPlane } from './control-plane.ts';
