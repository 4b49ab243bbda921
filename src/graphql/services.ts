import type { DataSource } from 'typeorm';
import { ApiKeyCache } from '../api-keys/api-key-cache';
import { ApiKeyRepository } from '../api-keys/api-key.repository';
import { CallEventRepository } from '../calls/call-event.repository';
import { CallRepository } from '../calls/call.repository';
import { ParticipantRepository } from '../calls/participant.repository';
import { StatsRepository } from '../calls/stats.repository';
import { QuarantineRepository } from '../quarantine/quarantine.repository';

/** The repositories the GraphQL side reads through, built once per process. */
export interface Services {
  readonly calls: CallRepository;
  readonly participants: ParticipantRepository;
  readonly events: CallEventRepository;
  readonly stats: StatsRepository;
  readonly quarantine: QuarantineRepository;
  /** Authenticates API keys, with their scopes cached (evict on revocation). */
  readonly apiKeys: ApiKeyCache;
}

/**
 * `keyCacheMs`: how long a key's scope is kept (0: asked of the database on every request);
 * `statsRollups`: `callStats` reads the hourly rollup where it can (false: always raw calls).
 */
export function createServices(dataSource: DataSource, keyCacheMs = 0, statsRollups = false): Services {
  return {
    calls: new CallRepository(dataSource),
    participants: new ParticipantRepository(dataSource),
    events: new CallEventRepository(dataSource),
    stats: new StatsRepository(dataSource, statsRollups),
    quarantine: new QuarantineRepository(dataSource),
    apiKeys: new ApiKeyCache(new ApiKeyRepository(dataSource), keyCacheMs),
  };
}
