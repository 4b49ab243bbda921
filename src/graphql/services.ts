import type { DataSource } from 'typeorm';
import { ApiKeyRepository } from './api-key.repository';
import { CallEventRepository } from './call-event.repository';
import { CallRepository } from './call.repository';
import { ParticipantRepository } from './participant.repository';
import { RejectedCallbackRepository } from './rejected-callback.repository';
import { StatsRepository } from './stats.repository';

/** The read side's repositories, built once per process. */
export interface CallServices {
  readonly calls: CallRepository;
  readonly participants: ParticipantRepository;
  readonly events: CallEventRepository;
  readonly stats: StatsRepository;
  readonly rejected: RejectedCallbackRepository;
  readonly apiKeys: ApiKeyRepository;
}

export function createCallServices(dataSource: DataSource): CallServices {
  return {
    calls: new CallRepository(dataSource),
    participants: new ParticipantRepository(dataSource),
    events: new CallEventRepository(dataSource),
    stats: new StatsRepository(dataSource),
    rejected: new RejectedCallbackRepository(dataSource),
    apiKeys: new ApiKeyRepository(dataSource),
  };
}
