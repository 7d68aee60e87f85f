/** A service started by `lifeline up` or `lifeline run`: what to print and how to stop it. */
export interface RunningService {
  name: string;
  address: string;
  state(): string;
  stop(): Promise<void>;
}
