export { findNatsServerBinary, NatsServerNotFoundError, SYSTEM_NATS_SERVER } from './binary.ts';
export { connectionOptionsFor, type NatsEndpoint, type ServiceConnectionOptions } from './connectionOptions.ts';
export {
  CredentialsFileError,
  credentialsEnv,
  loadOrCreateCredentials,
  passwordEnvVar,
  SERVICE_USERS,
  type Credentials,
  type PasswordEnvVar,
  type ServiceUser,
  type UserCredentials,
} from './credentials.ts';
export { freePort, freePorts } from './freePort.ts';
export {
  DEFAULT_NATS_CONFIG,
  NatsServerStartError,
  startNatsServer,
  type NatsServerHandle,
  type StartNatsServerOptions,
} from './launcher.ts';
export { natsServerEnv, type NatsServerEnv, type NatsServerPorts } from './serverEnv.ts';
