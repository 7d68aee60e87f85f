import { seededRandom } from '../device-sim/random.ts';

/**
 * A small race simulator for `lifeline publish --source sim`: one car on a lap of
 * `lapLengthM`, speed wandering around `baseSpeedKmh`, fuel burnt per metre, position
 * among `cars` drifting now and then. Deterministic for a given seed.
 */
export interface RaceSimOptions {
  seed?: number;
  lapLengthM?: number;
  baseSpeedKmh?: number;
  fuelL?: number;
  fuelPerKmL?: number;
  cars?: number;
  laps?: number;
}

export interface RaceSample {
  lap: number;
  fuel: number;
  position: number;
  speed: number;
  distance_m: number;
}

export interface RaceSetup {
  track: string;
  car: string;
  driver: string;
  laps: number;
  lap_length_m: number;
  cars: number;
}

export interface RaceSim {
  setup: RaceSetup;
  /** Advances the race by `dtMs` and returns the car's telemetry. */
  step(dtMs: number): RaceSample;
}

export function createRaceSim(options: RaceSimOptions = {}): RaceSim {
  const random = seededRandom(options.seed ?? 42);
  const lapLength = options.lapLengthM ?? 4_300;
  const cars = options.cars ?? 20;
  const fuelPerKm = options.fuelPerKmL ?? 0.35;
  let speed = options.baseSpeedKmh ?? 180;
  let fuel = options.fuelL ?? 100;
  let distance = 0;
  let position = Math.ceil(cars / 2);
  return {
    setup: { track: 'Lifeline Ring', car: 'LL-01', driver: 'sim', laps: options.laps ?? 50, lap_length_m: lapLength, cars },
    step(dtMs) {
      speed = Math.min(320, Math.max(60, speed + (random() - 0.5) * 20));
      const metres = (speed / 3.6) * (dtMs / 1000);
      distance += metres;
      fuel = Math.max(0, fuel - (metres / 1000) * fuelPerKm);
      if (random() < 0.01) position = Math.min(cars, Math.max(1, position + (random() < 0.5 ? -1 : 1)));
      return {
        lap: Math.floor(distance / lapLength) + 1,
        fuel: Math.round(fuel * 100) / 100,
        position,
        speed: Math.round(speed * 10) / 10,
        distance_m: Math.round(distance),
      };
    },
  };
}
