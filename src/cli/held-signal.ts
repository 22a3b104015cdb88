/**
 * A signal caught from the start and remembered until its real handler is ready. Without it,
 * SIGHUP's default action ends the process: one sent while `serve` loads its modules and config
 * (a config manager that writes the file and signals a starting container) would stop it.
 */
export interface HeldSignal {
  /** Hands the signal to `handler` from now on, calling it once now if the signal came meanwhile. */
  release(handler: () => void): void;
}

export function holdSignal(signal: NodeJS.Signals): HeldSignal {
  let pending = false;
  const hold = () => {
    pending = true;
  };
  process.on(signal, hold);
  return {
    release(handler) {
      process.on(signal, handler);
      process.off(signal, hold);
      if (pending) handler();
    },
  };
}
