import { ModuleClient, type DeviceMethodRequest, type DeviceMethodResponse, type Twin } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import { getLogger, type Logger } from '../../core/logger';
import type { DesiredProperties, Upstream } from '../upstream';
import type { OutgoingMessage, Transport } from '../../core/transport';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { detectEdgeHubEndpoint, missingWorkloadVariables } from './environment';
import { SECURITY_OUTPUT, toSdkMessage } from './message';
import { disableMqttNumberCache } from './mqtt-memory';
import { callWithTimeout, combinePatches, OperationTimeoutError, promiseWithTimeout } from './promises';
import { guardIncomingMessages } from './sdk-guards';

export interface MethodResult {
  readonly status: number;
  readonly payload?: unknown;
}

/** Answers one direct method call; a throw or rejection is answered with status 500. */
export type MethodHandler = (payload: unknown) => MethodResult | Promise<MethodResult>;

export type EdgeHubConnectionState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'closed';

export interface EdgeHubUpstream extends Upstream {
  readonly mode: 'edgeHub';
  /** Registers a direct method; kept across reconnects. `ping` is built in. */
  onMethod(name: string, handler: MethodHandler): void;
  connectionState(): EdgeHubConnectionState;
}

export interface EdgeHubUpstreamOptions {
  log?: Logger;
  /** Output name for security messages; `securityEvents` unless a test says otherwise. */
  outputName?: string;
  /** Reconnect delays (first connection and after a loss). */
  backoff?: Partial<BackoffOptions>;
  /** Bound of every SDK call (open, twin GET, reported patch, send acknowledgement). */
  operationTimeoutMs?: number;
}

export class NotConnectedError extends Error {
  constructor(what: string) {
    super(`${what}: edgeHub not connected`);
    this.name = 'NotConnectedError';
  }
}

/** The SDK retries operations itself for up to 4 minutes by default; we retry at our level instead. */
const NO_SDK_RETRY = { shouldRetry: (): boolean => false, nextRetryTimeout: (): number => 0 };

const DEFAULT_OPERATION_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 5_000;
const LOG_EVERY_ATTEMPT_UNTIL = 5;
const REPEAT_FAILURE_LOG_MS = 60_000;

/** One MQTT connection's worth of SDK objects; a lost connection discards the whole session. */
interface Session {
  readonly generation: number;
  readonly client: ModuleClient;
  twin?: Twin;
  /** Set once the twin is fetched and desired updates are subscribed. */
  ready: boolean;
  readonly lost: Promise<never>;
  markLost(reason: Error): void;
}

function sdkErrorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // The SDK labels every failed first connect "Not authorized", refused sockets included: keep the cause only.
  return text.replace(/^mqtt\.js returned /, '').replace(/^Failure on first connection \(Not authorized\): /, '').replace(/ error$/, '');
}

/**
 * The agent's link to edgeHub through the Azure IoT SDK (`ModuleClient.fromEnvironment(Mqtt)`).
 * The SDK neither retries a failed first connection nor fetches the twin after a reconnect, so this
 * class owns the connection life cycle: each attempt builds a fresh client, connects, fetches the twin,
 * subscribes to desired patches, re-registers direct methods; any loss discards the client and starts
 * over with capped, jittered exponential backoff.
 */
class EdgeHubLink implements EdgeHubUpstream {
  readonly mode = 'edgeHub' as const;
  readonly transport: Transport;
  private readonly log: Logger;
  private readonly backoff: BackoffOptions;
  private readonly timeoutMs: number;
  private readonly outputName: string;
  private readonly desiredListeners: Array<(desired: DesiredProperties) => void> = [];
  private readonly connectedListeners: Array<() => void> = [];
  private readonly methods = new Map<string, MethodHandler>();
  private state: EdgeHubConnectionState = 'idle';
  private session?: Session;
  private generation = 0;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private lastDesired?: DesiredProperties;
  /** Reported patches not acknowledged yet, merged; sent after the next (re)connect. */
  private pendingReported?: Record<string, unknown>;
  private connectedSince?: Date;
  private lastFailure?: string;
  private lastFailureLoggedAt = 0;
  private reconnects = 0;

  constructor(options: EdgeHubUpstreamOptions) {
    this.log = options.log ?? getLogger('edgehub');
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.timeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.outputName = options.outputName ?? SECURITY_OUTPUT;
    this.transport = { name: 'edgeHub', send: (message) => this.send(message) };
    this.methods.set('ping', () => ({
      status: 200,
      payload: { state: this.state, connectedSince: this.connectedSince?.toISOString(), reconnects: this.reconnects },
    }));
  }

  connectionState(): EdgeHubConnectionState {
    return this.state;
  }

  /** A method, not a field read, so the compiler does not narrow `state` across awaits. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  onDesired(listener: (desired: DesiredProperties) => void): void {
    this.desiredListeners.push(listener);
    const known = this.lastDesired;
    if (known) process.nextTick(() => this.callListener(listener, known));
  }

  onConnected(listener: () => void): void {
    this.connectedListeners.push(listener);
  }

  isConnected(): boolean {
    return this.state === 'connected';
  }

  onMethod(name: string, handler: MethodHandler): void {
    this.methods.set(name, handler);
    const session = this.session;
    if (session?.ready) this.registerMethod(session, name);
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    const endpoint = detectEdgeHubEndpoint();
    if (endpoint) {
      this.log.info('connecting to edgeHub', { mode: endpoint.mode, host: endpoint.host, device: endpoint.deviceId, module: endpoint.moduleId });
    } else {
      this.log.warn('IoT Edge environment incomplete; the SDK will report what is missing', { missing: missingWorkloadVariables().join(',') });
    }
    this.state = 'connecting';
    void this.connect();
  }

  async reportProperties(patch: Record<string, unknown>): Promise<void> {
    const session = this.session;
    if (this.state !== 'connected' || !session?.twin) {
      this.keepPendingReported(patch);
      throw new NotConnectedError('report properties');
    }
    try {
      await Promise.race([this.updateReported(session.twin, patch), session.lost]);
    } catch (err) {
      // Kept for the next connection only when the link failed; a patch edgeHub refused would be refused again.
      if (err instanceof NotConnectedError || err instanceof OperationTimeoutError) this.keepPendingReported(patch);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const session = this.session;
    this.session = undefined;
    if (session) await this.discard(session);
    this.log.info('edgeHub connection closed');
  }

  private async send(message: OutgoingMessage): Promise<void> {
    const session = this.session;
    if (this.state !== 'connected' || !session?.ready) throw new NotConnectedError(`send message ${message.messageId}`);
    // The SDK does not fail operations in flight when the connection drops: the session's loss does.
    const sent = promiseWithTimeout('sendOutputEvent', this.timeoutMs, () => session.client.sendOutputEvent(this.outputName, toSdkMessage(message)));
    await Promise.race([sent, session.lost]);
  }

  private keepPendingReported(patch: Record<string, unknown>): void {
    this.pendingReported = combinePatches(this.pendingReported ?? {}, structuredClone(patch));
  }

  private updateReported(twin: Twin, patch: Record<string, unknown>): Promise<void> {
    // reported.update is callback-only; without a callback a failure would crash the process later.
    return callWithTimeout<void>('reported properties update', this.timeoutMs, (done) => twin.properties.reported.update(patch, (err?: Error) => done(err)));
  }

  private async connect(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const generation = ++this.generation;
    let session: Session | undefined;
    try {
      disableMqttNumberCache();
      const client = await callWithTimeout<ModuleClient>('ModuleClient.fromEnvironment', this.timeoutMs, (done) =>
        ModuleClient.fromEnvironment(Mqtt, (err?: Error, created?: ModuleClient) => done(err, created)),
      );
      if (this.isClosed()) {
        void client.close().catch(() => undefined);
        return;
      }
      session = this.newSession(generation, client);
      this.session = session;
      await this.establish(session);
    } catch (err) {
      if (session) {
        if (this.session === session) this.session = undefined;
        void this.discard(session);
      }
      if (this.isClosed() || generation !== this.generation) return;
      const delayMs = backoffDelay(this.attempt++, this.backoff);
      this.state = 'waiting';
      const text = sdkErrorText(err);
      // Every attempt while it is new or the cause changes, then once a minute: edgeHub may be down for hours.
      if (this.attempt <= LOG_EVERY_ATTEMPT_UNTIL || text !== this.lastFailure || Date.now() - this.lastFailureLoggedAt >= REPEAT_FAILURE_LOG_MS) {
        this.log.warn('edgeHub not reachable, retrying', { attempt: this.attempt, retryInMs: delayMs, error: text });
        this.lastFailureLoggedAt = Date.now();
      }
      this.lastFailure = text;
      this.retryTimer = setTimeout(() => void this.connect(), delayMs);
    }
  }

  private newSession(generation: number, client: ModuleClient): Session {
    let markLost: (reason: Error) => void = () => undefined;
    const lost = new Promise<never>((_resolve, reject) => {
      markLost = reject;
    });
    lost.catch(() => undefined);
    const session: Session = { generation, client, ready: false, lost, markLost: (reason) => markLost(reason) };
    client.setRetryPolicy(NO_SDK_RETRY);
    const guarded = guardIncomingMessages(client, (topic, err) =>
      this.log.warn('malformed message from edgeHub ignored', { topic: topic.split('?')[0], error: err.message }),
    );
    if (!guarded) this.log.debug('SDK internals not as expected: malformed twin messages are not guarded');
    // Without an 'error' listener an SDK error event would throw and end the process.
    client.on('error', (err: Error) => this.log.warn('edgeHub client error', { error: sdkErrorText(err) }));
    client.on('disconnect', (reason?: { transportObj?: unknown }) => {
      const cause = reason?.transportObj instanceof Error ? reason.transportObj.message : 'connection closed';
      this.connectionLost(session, new Error(cause));
    });
    // The transport reconnects by itself when it renews its SAS token; desired patches may be missed then.
    client.on('connect', () => {
      if (!session.ready || this.session !== session) return;
      this.announceConnected();
      void this.refreshTwin(session);
    });
    return session;
  }

  /** Open, twin, desired subscription, a second twin GET to cover patches sent meanwhile, methods. */
  private async establish(session: Session): Promise<void> {
    const step = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, session.lost]);
    await step(promiseWithTimeout('open', this.timeoutMs, () => session.client.open()));
    const twin = await step(promiseWithTimeout('getTwin', this.timeoutMs, () => session.client.getTwin()));
    session.twin = twin;
    twin.on('error', (err: Error) => this.log.warn('twin error', { error: sdkErrorText(err) }));
    twin.on('properties.desired', () => {
      if (session.ready && this.session === session) this.publishDesired(twin);
    });
    await step(callWithTimeout<void>('desired properties subscription', this.timeoutMs, (done) => twin.enableTwinDesiredPropertiesUpdates((err) => done(err))));
    await step(promiseWithTimeout('getTwin', this.timeoutMs, () => twin.get()));
    for (const name of this.methods.keys()) this.registerMethod(session, name);
    if (this.isClosed() || this.session !== session) throw new Error('superseded');
    session.ready = true;
    this.state = 'connected';
    this.connectedSince = new Date();
    if (this.attempt > 0 || this.reconnects > 0) this.log.info('connected to edgeHub', { attempts: this.attempt + 1, reconnects: this.reconnects });
    else this.log.info('connected to edgeHub');
    this.attempt = 0;
    this.lastFailure = undefined;
    await this.flushPendingReported(session, twin);
    this.announceConnected();
    this.publishDesired(twin);
  }

  private announceConnected(): void {
    for (const listener of this.connectedListeners) {
      try {
        listener();
      } catch (err) {
        this.log.error('connected listener failed', { error: sdkErrorText(err) });
      }
    }
  }

  private async flushPendingReported(session: Session, twin: Twin): Promise<void> {
    const pending = this.pendingReported;
    if (!pending) return;
    this.pendingReported = undefined;
    try {
      await Promise.race([this.updateReported(twin, pending), session.lost]);
      this.log.info('sent reported properties kept while offline');
    } catch (err) {
      this.pendingReported = combinePatches(pending, this.pendingReported ?? {});
      if (this.session === session) this.log.warn('reported properties kept while offline not sent yet', { error: sdkErrorText(err) });
    }
  }

  private async refreshTwin(session: Session): Promise<void> {
    try {
      await promiseWithTimeout('getTwin', this.timeoutMs, () => session.twin!.get());
    } catch (err) {
      this.log.warn('twin refresh after transport reconnect failed', { error: sdkErrorText(err) });
    }
  }

  private publishDesired(twin: Twin): void {
    const desired = JSON.parse(JSON.stringify(twin.properties.desired ?? {})) as DesiredProperties;
    this.lastDesired = desired;
    for (const listener of this.desiredListeners) this.callListener(listener, desired);
  }

  private callListener(listener: (desired: DesiredProperties) => void, desired: DesiredProperties): void {
    try {
      // Each listener gets its own copy: one listener's edits must not leak into another's view.
      listener(structuredClone(desired));
    } catch (err) {
      this.log.error('desired properties listener failed', { error: sdkErrorText(err) });
    }
  }

  private registerMethod(session: Session, name: string): void {
    try {
      session.client.onMethod(name, (request?: DeviceMethodRequest, response?: DeviceMethodResponse) => {
        if (request && response) void this.answerMethod(name, request, response);
      });
    } catch (err) {
      this.log.warn('direct method not registered', { method: name, error: sdkErrorText(err) });
    }
  }

  private async answerMethod(name: string, request: DeviceMethodRequest, response: DeviceMethodResponse): Promise<void> {
    const handler = this.methods.get(name);
    let result: MethodResult;
    try {
      result = handler ? await handler(request.payload as unknown) : { status: 404, payload: { error: `unknown method ${name}` } };
    } catch (err) {
      result = { status: 500, payload: { error: sdkErrorText(err) } };
    }
    this.log.info('direct method answered', { method: name, status: result.status });
    try {
      await callWithTimeout<void>('method response', this.timeoutMs, (done) => response.send(result.status, result.payload ?? null, (err?: Error) => done(err)));
    } catch (err) {
      this.log.warn('direct method response not sent', { method: name, error: sdkErrorText(err) });
    }
  }

  private connectionLost(session: Session, reason: Error): void {
    session.markLost(new NotConnectedError(`connection lost (${reason.message})`));
    if (this.state === 'closed' || this.session !== session || !session.ready) return;
    this.session = undefined;
    this.connectedSince = undefined;
    this.reconnects++;
    this.log.warn('edgeHub connection lost, reconnecting', { error: reason.message });
    void this.discard(session);
    this.state = 'waiting';
    const delayMs = backoffDelay(this.attempt++, this.backoff);
    this.retryTimer = setTimeout(() => void this.connect(), delayMs);
  }

  /** Closes a session's client, bounded; its late events and callbacks are ignored (generation check). */
  private async discard(session: Session): Promise<void> {
    session.ready = false;
    session.markLost(new NotConnectedError('connection closed'));
    try {
      await promiseWithTimeout('close', CLOSE_TIMEOUT_MS, () => session.client.close());
    } catch (err) {
      this.log.debug('edgeHub client close failed', { error: sdkErrorText(err) });
    }
  }
}

/** The edgeHub upstream; `start()` begins connecting in the background and never throws. */
export function createEdgeHubUpstream(options: EdgeHubUpstreamOptions = {}): EdgeHubUpstream {
  return new EdgeHubLink(options);
}
