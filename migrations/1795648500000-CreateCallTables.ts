import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Events (append-only, commit-ordered), the call projection and the quarantine. */
export class CreateCallTables1795648500000 implements MigrationInterface {
  name = 'CreateCallTables1795648500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE call_events (
        position        bigserial    NOT NULL,
        sdk_app_id      text         NOT NULL,
        call_id         text         NOT NULL,
        room_id         text,
        user_id         text,
        role            text,
        raw_event       text         NOT NULL,
        event_type      text         NOT NULL,
        call_type       text,
        media_type      text,
        total_num       integer,
        call_result     text,
        raw_call_result text,
        event_time      timestamptz  NOT NULL,
        start_call_at   timestamptz,
        accept_at       timestamptz,
        end_at          timestamptz,
        command         text,
        client_ip       text,
        platform        text,
        received_at     timestamptz  NOT NULL DEFAULT now(),
        body            jsonb        NOT NULL,
        dedupe_key      text         NOT NULL,
        CONSTRAINT pk_call_events PRIMARY KEY (position),
        CONSTRAINT uq_call_events_dedupe UNIQUE (sdk_app_id, dedupe_key)
      )`);
    await q.query(`CREATE INDEX ix_call_events_call ON call_events (sdk_app_id, call_id, position)`);
    await q.query(`CREATE INDEX ix_call_events_user_time ON call_events (sdk_app_id, user_id, event_time, position)`);
    await q.query(`CREATE INDEX ix_call_events_app_time ON call_events (sdk_app_id, event_time, position)`);

    await q.query(`
      CREATE TABLE calls (
        id                bigserial    NOT NULL,
        sdk_app_id        text         NOT NULL,
        call_id           text         NOT NULL,
        room_id           text,
        call_type         text,
        media_type        text,
        status            text         NOT NULL,
        result            text,
        caller_id         text,
        started_at        timestamptz,
        accepted_at       timestamptz,
        ended_at          timestamptz,
        ring_seconds      integer,
        talk_seconds      integer,
        participant_count integer      NOT NULL,
        last_event_at     timestamptz  NOT NULL,
        last_position     bigint       NOT NULL,
        updated_at        timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT pk_calls PRIMARY KEY (id),
        CONSTRAINT uq_calls_app_call UNIQUE (sdk_app_id, call_id),
        CONSTRAINT ck_calls_status CHECK (status IN ('RINGING', 'ONGOING', 'ENDED'))
      )`);
    await q.query(`CREATE INDEX ix_calls_app_started ON calls (sdk_app_id, started_at DESC, id DESC)`);
    await q.query(`CREATE INDEX ix_calls_app_status_started ON calls (sdk_app_id, status, started_at DESC, id DESC)`);
    await q.query(`CREATE INDEX ix_calls_started ON calls (started_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE call_participants (
        call_ref    bigint       NOT NULL,
        sdk_app_id  text         NOT NULL,
        call_id     text         NOT NULL,
        user_id     text         NOT NULL,
        role        text         NOT NULL,
        outcome     text         NOT NULL,
        platform    text,
        invited_at  timestamptz,
        answered_at timestamptz,
        left_at     timestamptz,
        call_type   text,
        media_type  text,
        started_at  timestamptz,
        CONSTRAINT pk_call_participants PRIMARY KEY (call_ref, user_id),
        CONSTRAINT fk_call_participants_call FOREIGN KEY (call_ref) REFERENCES calls (id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX ix_call_participants_user_started ON call_participants (sdk_app_id, user_id, started_at DESC, call_ref DESC)`);

    await q.query(`
      CREATE TABLE rejected_callbacks (
        id            bigserial    NOT NULL,
        fingerprint   text         NOT NULL,
        reason        text         NOT NULL,
        error_code    text         NOT NULL,
        sdk_app_id    text,
        query_string  text         NOT NULL,
        raw_body      text         NOT NULL,
        body_bytes    integer      NOT NULL,
        times         integer      NOT NULL DEFAULT 1,
        first_seen_at timestamptz  NOT NULL DEFAULT now(),
        last_seen_at  timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT pk_rejected_callbacks PRIMARY KEY (id),
        CONSTRAINT uq_rejected_callbacks_fingerprint UNIQUE (fingerprint)
      )`);
    await q.query(`CREATE INDEX ix_rejected_callbacks_last_seen ON rejected_callbacks (last_seen_at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rejected_callbacks`);
    await q.query(`DROP TABLE call_participants`);
    await q.query(`DROP TABLE calls`);
    await q.query(`DROP TABLE call_events`);
  }
}
