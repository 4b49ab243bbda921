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
  /** Authenticates API keys, with their scopes cached (evict on revocation). Always the primary: a revocation must be seen at once. */
  readonly apiKeys: ApiKeyCache;
  /**
   * The same services over the primary, for subscriptions' executions (src/graphql/live-render.ts): their
   * items come from the primary, so a nested field (`callEventAdded { call { status } }`) must not read a
   * replica that has not replayed them yet. The object itself when there is no replica.
   */
  readonly primary: Services;
}

/**
 * `readDataSource`: where queries read (the replica at `DATABASE_READ_URL`, else `dataSource`; docs/scaling.md,
 * "Read replicas"); `keyCacheMs`: how long a key's scope is kept (0: asked of the database on every request);
 * `statsRollups`: `callStats` reads the hourly rollup where it can (false: always raw calls).
 */
export function createServices(dataSource: DataSource, keyCacheMs = 0, statsRollups = false, readDataSource: DataSource = dataSource): Services {
  const apiKeys = new ApiKeyCache(new ApiKeyRepository(dataSource), keyCacheMs);
  const reads = (ds: DataSource, primary: Services | null): Services => {
    const services: Services = {
      calls: new CallRepository(ds),
      participants: new ParticipantRepository(ds),
      events: new CallEventRepository(ds, dataSource),
      stats: new StatsRepository(ds, statsRollups),
      quarantine: new QuarantineRepository(ds),
      apiKeys,
      get primary() {
        return primary ?? services;
      },
    };
    return services;
  };
  const primary = reads(dataSource, null);
  return readDataSource === dataSource ? primary : reads(readDataSource, primary);
}
