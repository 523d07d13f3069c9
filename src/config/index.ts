// config/: the one schema of gateway.yaml (types derived from it) and its loader (defaults < file < flags).
// Errors carry file, line and field. No environment variable configures kgate: gateway.yaml and flags do.
export { ConfigSchema, type Config, type AuthorizerConfig, type ApiServerConfig, type Limits } from './schema.ts';
export { loadConfig, parseConfig, type ConfigOverrides } from './load.ts';
export { userCacheHome, childEnvironment } from './host-environment.ts';
