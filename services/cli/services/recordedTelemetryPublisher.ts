import type { PublisherTiming } from '../../../machines/telemetryPublisher.ts';
import { startTelemetryPublisher, type TelemetryPublisher } from '../../telemetry/telemetryPublisher.ts';
import type { NatsEndpoint } from '../natsEndpoint.ts';
import { openRecordingConnection, type RecordingConnection } from './recordingConnection.ts';

export interface RecordedTelemetryPublisher {
  publisher: TelemetryPublisher;
  /** Where the publisher actor's transitions are recorded (user `telemetry`). */
  recording: RecordingConnection;
}

/**
 * A race telemetry publisher for `sessionId`, connected as user `telemetry`, whose actor's
 * transitions are recorded through their own connection and outbox.
 */
export async function startRecordedTelemetryPublisher(
  endpoint: NatsEndpoint,
  options: { sessionId: string; timing?: Partial<PublisherTiming>; connectionPrefix: string },
): Promise<RecordedTelemetryPublisher> {
  const { sessionId } = options;
  const recording = await openRecordingConnection(endpoint, 'telemetry', 'telemetry-publisher', {
    connectionName: `${options.connectionPrefix}-telemetry-records-${sessionId}`,
  });
  const creds = endpoint.credentials?.telemetry;
  const publisher = startTelemetryPublisher({
    servers: endpoint.url,
    ...(creds ? { user: creds.user, pass: creds.password } : {}),
    sessionId,
    sink: recording.outbox,
    ...(options.timing ? { timing: options.timing } : {}),
  });
  return { publisher, recording };
}
