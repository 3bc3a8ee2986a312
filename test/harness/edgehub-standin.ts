import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { mergePatch } from '../../src/core/json-merge-patch';
import { makeTestCertificates, opensslSkipReason, type TestCertificates } from './certificates';
import { freePort } from './free-port';

/** Why the edgeHub stand-in cannot run here (then the test skips loudly), or undefined. */
export function edgeHubStandInSkipReason(): string | undefined {
  return opensslSkipReason();
}

/** One message the module sent on an output, with the properties the SDK put in the topic. */
export interface RecordedOutput {
  readonly topic: string;
  /** `$.on`: output name. */
  readonly output?: string;
  /** `$.ct`, `$.ce`, `$.ifid`, `$.mid`. */
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly interfaceId?: string;
  readonly messageId?: string;
  /** User properties (every topic property whose name does not start with `$.`). */
  readonly properties: Record<string, string>;
  /** Every decoded topic property, system ones included. */
  readonly topicProperties: Record<string, string>;
  readonly body: string;
  readonly receivedAt: number;
}

export interface RecordedConnect {
  readonly clientId: string;
  readonly username: string;
  readonly accepted: boolean;
  readonly reason?: string;
}

export interface MethodAnswer {
  readonly status: number;
  readonly payload: unknown;
}

export interface EdgeHubStandInOptions {
  hubName?: string;
  deviceId?: string;
  moduleId?: string;
  /** Base64 module key; the stand-in checks every SAS token against it. Random when omitted. */
  sharedAccessKey?: string;
  /** Initial desired properties (without `$version`). */
  desired?: Record<string, unknown>;
  /** false: reserve a port but accept connections only after `startListener()` (module started first). */
  listen?: boolean;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Twin patch semantics (objects merge, `null` deletes); `$version` is the stand-in's to set. */
function applyTwinPatch(target: Json, patch: Json): void {
  const { $version: _ignored, ...rest } = patch;
  mergePatch(target, rest);
}

function queryOf(topic: string): URLSearchParams {
  const q = topic.indexOf('?');
  return new URLSearchParams(q >= 0 ? topic.slice(q + 1) : '');
}

function decodeTopicProperties(segment: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of segment.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decodeURIComponent(eq >= 0 ? pair.slice(0, eq) : pair);
    out[key] = eq >= 0 ? decodeURIComponent(pair.slice(eq + 1)) : '';
  }
  return out;
}

/**
 * edgeHub as the module sees it: a TLS MQTT broker (aedes) on 127.0.0.1 speaking the IoT Hub topics —
 * twin GET, reported patches, desired patch pushes, direct methods — and recording every output message.
 * Its listener can be stopped and restarted on the same port to simulate an outage.
 */
export class EdgeHubStandIn {
  readonly hubName: string;
  readonly deviceId: string;
  readonly moduleId: string;
  readonly sharedAccessKey: string;
  readonly caFile: string;
  readonly caPem: string;
  readonly port: number;
  /** Current desired properties (the stand-in's twin), without `$version`. */
  readonly desired: Json;
  desiredVersion = 1;
  readonly reported: Json = {};
  reportedVersion = 1;
  readonly outputs: RecordedOutput[] = [];
  readonly reportedPatches: Json[] = [];
  readonly connects: RecordedConnect[] = [];
  twinGets = 0;
  /** The next this-many reported patches are refused (status 400 with an IoT Hub error body). */
  refuseReportedPatches = 0;
  /** The next this-many twin GETs are answered with a body that is not JSON. */
  corruptTwinResponses = 0;

  private readonly dir: string;
  private readonly certificates: TestCertificates;
  private readonly broker: Aedes;
  private server?: tls.Server;
  private readonly sockets = new Set<Socket>();
  private publishChain: Promise<void> = Promise.resolve();
  private readonly pendingMethods = new Map<string, { answer: (answer: MethodAnswer) => void; fail: (err: Error) => void }>();
  private nextRid = 1;
  private readonly waiters = new Set<() => void>();

  private constructor(options: EdgeHubStandInOptions, dir: string, certificates: TestCertificates, broker: Aedes, port: number) {
    this.hubName = options.hubName ?? 'edgeguard-test.azure-devices.net';
    this.deviceId = options.deviceId ?? 'test-device';
    this.moduleId = options.moduleId ?? 'edgeguard';
    this.sharedAccessKey = options.sharedAccessKey ?? randomBytes(32).toString('base64');
    this.desired = structuredClone(options.desired ?? {});
    this.dir = dir;
    this.certificates = certificates;
    this.caFile = certificates.caFile;
    this.caPem = certificates.caPem;
    this.broker = broker;
    this.port = port;
  }

  static async start(options: EdgeHubStandInOptions = {}): Promise<EdgeHubStandIn> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-edgehub-'));
    try {
      const certificates = makeTestCertificates(dir);
      const broker = await Aedes.createBroker();
      const standIn = new EdgeHubStandIn(options, dir, certificates, broker, await freePort());
      standIn.wire();
      if (options.listen !== false) await standIn.startListener();
      return standIn;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The dev-mode `EdgeHubConnectionString` for this stand-in (GatewayHostName carries the port). */
  connectionString(): string {
    return `HostName=${this.hubName};GatewayHostName=localhost:${this.port};DeviceId=${this.deviceId};ModuleId=${this.moduleId};SharedAccessKey=${this.sharedAccessKey}`;
  }

  /** Environment for the dev pair: `EdgeHubConnectionString` + `EdgeModuleCACertificateFile`. */
  devEnvironment(): Record<string, string> {
    return { EdgeHubConnectionString: this.connectionString(), EdgeModuleCACertificateFile: this.caFile };
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Clients with a live MQTT session. */
  get connectedClients(): number {
    return this.broker.connectedClients;
  }

  async startListener(): Promise<void> {
    if (this.server) return;
    const server = tls.createServer({ key: this.certificates.serverKey, cert: this.certificates.serverCert }, (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      this.broker.handle(socket);
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Outage: stops accepting connections and cuts every open one (the module sees its socket close). */
  async stopListener(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Changes desired properties as the cloud would, and pushes the patch to connected modules. */
  async patchDesired(patch: Json): Promise<void> {
    applyTwinPatch(this.desired, patch);
    this.desiredVersion++;
    const body = { ...patch, $version: this.desiredVersion };
    await this.publishRaw(`$iothub/twin/PATCH/properties/desired/?$version=${this.desiredVersion}`, JSON.stringify(body));
  }

  /** Changes desired properties without telling anyone (as if the module missed the push). */
  patchDesiredSilently(patch: Json): void {
    applyTwinPatch(this.desired, patch);
    this.desiredVersion++;
  }

  /** Calls a direct method on the module and waits for its answer. */
  async invokeMethod(name: string, payload: unknown, timeoutMs = 10_000): Promise<MethodAnswer> {
    const rid = String(this.nextRid++);
    const answer = new Promise<MethodAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingMethods.delete(rid);
        reject(new Error(`direct method ${name} not answered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingMethods.set(rid, {
        answer: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        fail: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
    await this.publishRaw(`$iothub/methods/POST/${name}/?$rid=${rid}`, JSON.stringify(payload ?? null));
    return answer;
  }

  /** Output messages whose JSON body parses, as objects. */
  outputBodies(output = 'securityEvents'): unknown[] {
    return this.outputs.filter((o) => o.output === output).map((o) => JSON.parse(o.body) as unknown);
  }

  async waitForOutput(predicate: (output: RecordedOutput, all: readonly RecordedOutput[]) => boolean, timeoutMs = 10_000): Promise<RecordedOutput> {
    let found: RecordedOutput | undefined;
    await this.waitUntil(() => (found = this.outputs.find((o) => predicate(o, this.outputs))) !== undefined, timeoutMs, 'output message');
    return found!;
  }

  /** Resolves when the stand-in's reported properties (all patches merged) satisfy `predicate`. */
  async waitForReported(predicate: (reported: Json, patches: readonly Json[]) => boolean, timeoutMs = 10_000): Promise<Json> {
    await this.waitUntil(() => predicate(this.reported, this.reportedPatches), timeoutMs, 'reported properties');
    return this.reported;
  }

  /** Resolves when `condition` holds; re-checked on every broker event and every 100 ms. */
  async waitUntil(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`edgeHub stand-in: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 100));
        this.waiters.add(wake);
      });
    }
  }

  async close(): Promise<void> {
    for (const pending of this.pendingMethods.values()) pending.fail(new Error('edgeHub stand-in closed'));
    this.pendingMethods.clear();
    await this.stopListener();
    await this.publishChain;
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /**
   * Publishes anything to the module (tests use it for malformed messages). aedes can lose a QoS 1
   * message when a publish starts before the previous one's callback: one at a time.
   */
  publishRaw(topic: string, payload: string): Promise<void> {
    const next = this.publishChain.then(
      () =>
        new Promise<void>((resolve) => {
          this.broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, () => resolve());
        }),
    );
    this.publishChain = next;
    return next;
  }

  private wire(): void {
    this.broker.authenticate = (client, username, password, done) => {
      const verdict = this.checkCredentials(client, username, password);
      this.connects.push({ clientId: client.id, username: username ?? '', accepted: verdict === undefined, reason: verdict });
      this.notify();
      if (verdict === undefined) {
        done(null, true);
        return;
      }
      const error = new Error(verdict) as AuthenticateError;
      error.returnCode = 4;
      done(error, null);
    };
    this.broker.on('clientError', () => undefined);
    this.broker.on('connectionError', () => undefined);
    this.broker.on('publish', (packet, client) => {
      if (!client) return;
      try {
        this.onModulePublish(packet.topic, Buffer.from(packet.payload));
      } finally {
        this.notify();
      }
    });
  }

  /** Undefined when accepted, else why not. The SAS token must be signed with the module key. */
  private checkCredentials(client: Client, username: string | undefined, password: Buffer | undefined): string | undefined {
    if (client.id !== `${this.deviceId}/${this.moduleId}`) return `unexpected client id ${client.id}`;
    if (!username?.startsWith(`${this.hubName}/${this.deviceId}/${this.moduleId}/`)) return `unexpected username ${username}`;
    const token = password?.toString('utf8') ?? '';
    if (!token.startsWith('SharedAccessSignature ')) return 'password is not a SAS token';
    const fields = new Map<string, string>();
    for (const part of token.slice('SharedAccessSignature '.length).split('&')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const sr = fields.get('sr');
    const se = fields.get('se');
    const sig = fields.get('sig');
    if (!sr || !se || !sig) return 'SAS token incomplete';
    const expected = createHmac('sha256', Buffer.from(this.sharedAccessKey, 'base64')).update(`${sr}\n${se}`).digest();
    const given = Buffer.from(decodeURIComponent(sig), 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'SAS signature does not match the module key';
    if (Number(se) * 1000 < Date.now()) return 'SAS token expired';
    return undefined;
  }

  private onModulePublish(topic: string, payload: Buffer): void {
    const eventsPrefix = `devices/${this.deviceId}/modules/${this.moduleId}/messages/events/`;
    if (topic.startsWith(eventsPrefix)) {
      const topicProperties = decodeTopicProperties(topic.slice(eventsPrefix.length).replace(/\/$/, ''));
      const properties: Record<string, string> = {};
      for (const [key, value] of Object.entries(topicProperties)) if (!key.startsWith('$.')) properties[key] = value;
      this.outputs.push({
        topic,
        output: topicProperties['$.on'],
        contentType: topicProperties['$.ct'],
        contentEncoding: topicProperties['$.ce'],
        interfaceId: topicProperties['$.ifid'],
        messageId: topicProperties['$.mid'],
        properties,
        topicProperties,
        body: payload.toString('utf8'),
        receivedAt: Date.now(),
      });
      return;
    }
    if (topic.startsWith('$iothub/twin/GET/')) {
      this.twinGets++;
      const rid = queryOf(topic).get('$rid') ?? '';
      const twin = {
        desired: { ...structuredClone(this.desired), $version: this.desiredVersion },
        reported: { ...structuredClone(this.reported), $version: this.reportedVersion },
      };
      const corrupt = this.corruptTwinResponses > 0;
      if (corrupt) this.corruptTwinResponses--;
      void this.publishRaw(`$iothub/twin/res/200/?$rid=${rid}`, corrupt ? '{"desired": not json' : JSON.stringify(twin));
      return;
    }
    if (topic.startsWith('$iothub/twin/PATCH/properties/reported/')) {
      const rid = queryOf(topic).get('$rid') ?? '';
      let patch: unknown;
      try {
        patch = JSON.parse(payload.toString('utf8'));
      } catch {
        patch = undefined;
      }
      if (!isObject(patch) || this.refuseReportedPatches > 0) {
        if (isObject(patch)) this.refuseReportedPatches--;
        // The SDK ignores the status code and looks for errorCode in the body, as IoT Hub sends it.
        void this.publishRaw(`$iothub/twin/res/400/?$rid=${rid}`, '{"errorCode":400004,"message":"reported patch refused"}');
        return;
      }
      this.reportedPatches.push(patch);
      applyTwinPatch(this.reported, patch);
      this.reportedVersion++;
      void this.publishRaw(`$iothub/twin/res/204/?$rid=${rid}&$version=${this.reportedVersion}`, '');
      return;
    }
    const method = /^\$iothub\/methods\/res\/(\d+)\//.exec(topic);
    if (method) {
      const rid = queryOf(topic).get('$rid') ?? '';
      const text = payload.toString('utf8');
      let body: unknown = text;
      try {
        body = text ? (JSON.parse(text) as unknown) : null;
      } catch {
        // a method may answer with a non-JSON body; keep it as text
      }
      this.pendingMethods.get(rid)?.answer({ status: Number(method[1]), payload: body });
      this.pendingMethods.delete(rid);
    }
  }
}
