import { Call } from './call.type';
import { CallEvent } from './call-event.type';
import { Connection } from './connection.type';
import { Participant } from './participant.type';
import { RejectedCallback } from './rejected-callback.type';

export const CallConnection = Connection(Call, 'Call');
export const ParticipantConnection = Connection(Participant, 'Participant');
export const CallEventConnection = Connection(CallEvent, 'CallEvent');
export const RejectedCallbackConnection = Connection(RejectedCallback, 'RejectedCallback');
