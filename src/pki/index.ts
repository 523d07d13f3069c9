// pki/: the CA, server and client certificates, kubeconfig rendering and the on-disk layout of `kgate init`.
// The only importer of node-forge, which only assembles and signs certificates (keys come from node:crypto).
export * from './certificates.ts';
export { renderKubeconfig, type KubeconfigOptions } from './kubeconfig.ts';
export { writeFileAtomic } from './files.ts';
export { defaultServerHosts } from './host-names.ts';
export { layoutPaths, ensurePki, certCovers, type LayoutPaths } from './layout.ts';
export { issueClientCertAsync, certificateSha256, pinnedPublicKey, type IssuedClientCertificate } from './client-certificates.ts';
