// config/: the one schema of gateway.yaml (types derived from it) and its loader (defaults < file < flags).
// Errors carry file, line and field. This is the only folder that reads process.env (see env.ts).
export { ConfigSchema, type Config, type AuthorizerConfig, type ApiServerConfig, type Limits } from './schema.ts';
export { loadConfig, parseConfig, type ConfigOverrides } from './load.ts';
