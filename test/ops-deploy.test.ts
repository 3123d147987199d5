import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { mintToken } from '../lib/auth/tokens';
import { loadConfig } from '../lib/config';
import { SUBGRAPH_NAMES, type SubgraphName } from '../lib/schema';
import { ROOT, freePort, run, startProcess } from './support/child';
import { freshDatabase } from './support/postgres';

const K8S_DIR = join(ROOT, 'deploy', 'k8s');
/** Drain of a stopping server (lib/http/server.ts `close(graceMs = 5000)`): pods must get longer than that. */
const DRAIN_SECONDS = 5;

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; spec?: { selector?: unknown; scaleTargetRef?: { name: string } }; [key: string]: unknown };
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'v1/ConfigMap': ConfigMap,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
};

function manifests(): { file: string; object: K8sObject }[] {
  return readdirSync(K8S_DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8')).map((doc) => {
        if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
        return { file, object: doc.toJS() as K8sObject };
      }),
    );
}

const podSpec = (o: K8sObject): IPodSpec => (o as unknown as { spec: { template: { spec: IPodSpec } } }).spec.template.spec;
const byKind = (kind: string) => manifests().filter((m) => m.object.kind === kind).map((m) => m.object);

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('are every one a valid object of the Kubernetes schema, and the kustomization lists every file', () => {
    const all = manifests();
    expect(all.length).toBeGreaterThan(10);
    for (const { file, object } of all) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect({ file, kind: object.kind, known: Model !== undefined }).toEqual({ file, kind: object.kind, known: true });
      expect(() => new (Model as new (data: K8sObject) => { validate(): void })(object).validate()).not.toThrow();
    }
    const kustomization = parse(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual([...new Set(all.map((m) => m.file))].sort());
  });

  it('the schema check itself refuses a broken object (a string port)', () => {
    const deployment = structuredClone(byKind('Deployment')[0]) as K8sObject;
    const container = podSpec(deployment).containers[0] as unknown as { ports: { containerPort: unknown }[] };
    (container.ports[0] as { containerPort: unknown }).containerPort = '4000';
    expect(() => new Deployment(deployment as never).validate()).toThrow(/containerPort must be integer/);
  });

  it('run every role from one image with probes, requests, a drain-length grace period, Secrets, PDBs and a gateway HPA', () => {
    const deployments = byKind('Deployment');
    const roles = deployments.map((d) => (podSpec(d).containers[0]?.args ?? []).join(' ')).sort();
    expect(roles).toEqual(['gateway', ...SUBGRAPH_NAMES.map((n) => `subgraph ${n}`), 'worker'].sort());
    const secret = byKind('Secret')[0] as unknown as { metadata: { name: string }; stringData: Record<string, string> };
    expect(Object.keys(secret.stringData).sort()).toEqual(['DATABASE_URL', 'GATEWAY_SIGNING_SECRET', 'JWT_SECRET', 'REDIS_URL']);

    for (const d of deployments) {
      const spec = podSpec(d);
      const c = spec.containers[0] as IContainer;
      expect(spec.securityContext?.runAsNonRoot).toBe(true);
      expect(c.resources?.requests?.cpu).toBeDefined();
      expect(c.resources?.requests?.memory).toBeDefined();
      expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(DRAIN_SECONDS + 5);
      expect(c.envFrom?.map((e) => e.secretRef?.name).filter(Boolean)).toEqual([secret.metadata.name]);
      const pdb = byKind('PodDisruptionBudget').find((p) => JSON.stringify(p.spec?.selector) === JSON.stringify(d.spec?.selector));
      expect({ deployment: d.metadata.name, pdb: pdb?.metadata.name }).toEqual({ deployment: d.metadata.name, pdb: d.metadata.name });
      const port = c.ports?.[0];
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: port?.name });
      expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: port?.name });
      // The process listens where the probes look: its *_PORT is the container port.
      const listen = c.env?.find((e) => e.name.endsWith('_PORT'));
      expect(Number(listen?.value)).toBe(port?.containerPort);
      const role = c.args?.[0];
      expect(listen?.name).toBe(role === 'gateway' ? 'GATEWAY_PORT' : role === 'worker' ? 'SYNC_WORKER_PORT' : `${(c.args?.[1] ?? '').toUpperCase()}_PORT`);
    }

    const hpa = byKind('HorizontalPodAutoscaler');
    expect(hpa.map((h) => h.spec?.scaleTargetRef?.name)).toEqual(['sor-gateway']);
    const [job] = byKind('Job');
    expect(podSpec(job as K8sObject).containers[0]?.args).toEqual(['migrate']);
    // The gateway finds each subgraph at its Service's name and port.
    const config = (byKind('ConfigMap')[0] as unknown as { data: Record<string, string> }).data;
    for (const name of SUBGRAPH_NAMES) {
      const service = byKind('Service').find((s) => s.metadata.name === `sor-${name}`) as unknown as { spec: { ports: { port: number }[] } };
      expect(config[`${name.toUpperCase()}_URL`]).toBe(`http://sor-${name}:${service.spec.ports[0]?.port}/graphql`);
    }
  });
});

describe('compose.yaml', () => {
  it('runs Postgres, Redis, two gateways, the four subgraphs and two workers from the one image, after the migrations', () => {
    const compose = parse(readFileSync(join(ROOT, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, { image?: string; command?: string[]; depends_on?: Record<string, unknown>; healthcheck?: { disable?: boolean }; environment?: Record<string, string> }> };
    const commands = Object.entries(compose.services)
      .filter(([, s]) => s.image === 'sor-gateway:local')
      .map(([, s]) => (s.command ?? []).join(' '))
      .sort();
    expect(commands).toEqual(['gateway', 'gateway', 'migrate', ...SUBGRAPH_NAMES.map((n) => `subgraph ${n}`), 'worker', 'worker'].sort());
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'redis']));
    const rolePort = (command: string[]) =>
      command[0] === 'gateway' ? 4000 : command[0] === 'worker' ? 4005 : { crm: 4001, erp: 4002, billing: 4003, sync: 4004 }[command[1] as SubgraphName];
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.image !== 'sor-gateway:local' || name === 'migrate') continue;
      expect({ name, after: Object.keys(s.depends_on ?? {}) }).toEqual({ name, after: expect.arrayContaining(['postgres', 'redis', 'migrate']) });
      // The image's HEALTHCHECK asks the port this role listens on (workers included: their SYNC_WORKER_PORT).
      expect({ name, healthcheck: s.healthcheck?.disable ?? false, port: s.environment?.['HEALTHCHECK_PORT'] }).toEqual({ name, healthcheck: false, port: String(rolePort(s.command ?? [])) });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The Dockerfile, read and rehearsed without a container engine (none can pull base images here).

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  steps: Instruction[];
}

function dockerfile(): Stage[] {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ').split('\n');
  const argDefaults: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines.map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op === 'ARG' && stages.length === 0) {
      const [k = '', v = ''] = args.split('=');
      argDefaults[k] = v;
    } else if (op === 'FROM') {
      const [image = '', , name = `stage${stages.length}`] = args.split(/\s+/);
      stages.push({ name, from: image.replace(/\$\{(\w+)\}/g, (_, k: string) => argDefaults[k] ?? ''), steps: [] });
    } else {
      stages.at(-1)?.steps.push({ op, args });
    }
  }
  return stages;
}

const runtimeStage = () => dockerfile().at(-1) as Stage;
const step = (stage: Stage, op: string) => stage.steps.filter((s) => s.op === op).map((s) => s.args);

describe('Dockerfile', () => {
  it('builds on Node 24 in stages and runs as a non-root user, in production, under tini, with a healthcheck', () => {
    const stages = dockerfile();
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from).toMatch(/^node:24(-|$)/);
    const runtime = runtimeStage();
    expect(step(runtime, 'USER').at(-1)).toMatch(/^(?!root$|0$)\w+$/);
    expect(step(runtime, 'ENV').join(' ')).toMatch(/\bNODE_ENV=production\b/);
    expect(step(runtime, 'HEALTHCHECK').at(-1)).toMatch(/CMD \["node", "dist\/scripts\/healthcheck.js"\]/);
    const entrypoint = JSON.parse(step(runtime, 'ENTRYPOINT').at(-1) ?? '[]') as string[];
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(step(runtime, 'RUN').join(' ')).toContain('install -y --no-install-recommends tini');
  });

  /**
   * Every instruction of every stage, in a temp dir per stage (its WORKDIR), with three stand-ins: `apt-get` is
   * skipped (it needs root and the Debian base; tini is checked above), the build stage's full `npm ci` links this
   * checkout's node_modules (a second full install costs minutes), and the production `npm ci --omit=dev` runs for
   * real once per package-lock.json in a shared temp dir that later runs (and the Node 24 pass of CI) link to.
   */
  it('rehearsed without a container: the runtime stage has only production dependencies and serves a subgraph and the gateway', async () => {
    const work = mkdtempSync(join(tmpdir(), 'sor-docker-'));
    const dirs: Record<string, string> = {};
    const env: Record<string, string> = {};
    let runtimeDir = '';
    try {
      for (const stage of dockerfile()) {
        const dir = (dirs[stage.name] = join(work, stage.name));
        mkdirSync(dir, { recursive: true });
        runtimeDir = dir;
        for (const { op, args } of stage.steps) {
          if (op === 'ENV') for (const pair of args.split(/\s+/)) env[pair.split('=')[0] ?? ''] = pair.split('=').slice(1).join('=');
          if (op === 'COPY') copy(args, dir, dirs);
          if (op === 'RUN') await rehearseRun(args, dir);
        }
      }
      const prodModules = join(runtimeDir, 'node_modules');
      // No file of the build imports a package that --omit=dev leaves out (type-only imports are gone from the output).
      const missing = [...importedPackages(join(runtimeDir, 'dist'))].filter((p) => !existsSync(join(prodModules, p, 'package.json')));
      expect(missing).toEqual([]);
      expect(existsSync(join(prodModules, 'typescript'))).toBe(false);
      expect(existsSync(join(prodModules, 'tsx'))).toBe(false);

      const database = await freshDatabase();
      const secrets = { JWT_SECRET: 'rehearsal-jwt-secret-0123456789abcdef0123', GATEWAY_SIGNING_SECRET: 'rehearsal-signing-secret-0123456789abcdef' };
      const [crmPort, gatewayPort, workerPort] = [await freePort(), await freePort(), await freePort()];
      const roleEnv: NodeJS.ProcessEnv = {
        PATH: process.env.PATH, ...env, HOST: '127.0.0.1', ...secrets, DATABASE_URL: database.url, LOG_LEVEL: 'warn',
        CRM_PORT: String(crmPort), GATEWAY_PORT: String(gatewayPort), CRM_URL: `http://127.0.0.1:${crmPort}/graphql`, SYNC_WORKER_PORT: String(workerPort),
      };
      const entry = join(runtimeDir, 'scripts', 'serve.sh');
      const migrated = await run(entry, ['migrate'], { cwd: runtimeDir, env: roleEnv });
      expect(migrated.stdout).toContain('migrations applied');
      const crm = startProcess(entry, ['subgraph', 'crm'], { cwd: runtimeDir, env: roleEnv });
      const gateway = startProcess(entry, ['gateway'], { cwd: runtimeDir, env: roleEnv });
      const worker = startProcess(entry, ['worker'], { cwd: runtimeDir, env: roleEnv });
      try {
        // The worker's probes (deploy/k8s/worker.yaml, compose.yaml) look at SYNC_WORKER_PORT.
        await Promise.all([waitReady(crmPort, crm), waitReady(gatewayPort, gateway), waitReady(workerPort, worker)]);
        for (const port of [crmPort, workerPort]) {
          const check = await run('node', ['dist/scripts/healthcheck.js'], { cwd: runtimeDir, env: { ...roleEnv, HEALTHCHECK_PORT: String(port) } });
          expect({ port, code: check.code }).toEqual({ port, code: 0 });
        }
        // The ops console ships in the image: built into dist/console, served by the gateway.
        for (const file of ['', 'app.js', 'style.css']) expect((await fetch(`http://127.0.0.1:${gatewayPort}/ops/${file}`)).status).toBe(200);
        const token = await mintToken(loadConfig({ ...secrets, NODE_ENV: 'production' }).jwt, { sub: 'rehearsal', tenant: 'acme', kind: 'user', scopes: ['crm:read'], ttlSeconds: 300 });
        const res = await fetch(`http://127.0.0.1:${gatewayPort}/graphql`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ accounts(first: 1) { nodes { id } } }' }),
        });
        expect(await res.json()).toEqual({ data: { accounts: { nodes: [] } }, extensions: expect.anything() });
      } finally {
        const codes = await Promise.all([gateway.stop(), crm.stop(), worker.stop()]);
        await database.drop();
        expect(codes).toEqual([0, 0, 0]);
      }
      const unhealthy = await run('node', ['dist/scripts/healthcheck.js'], { cwd: runtimeDir, env: { ...roleEnv, HEALTHCHECK_PORT: String(crmPort) } });
      expect(unhealthy.code).toBe(1);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 900_000);
});

function copy(args: string, dir: string, dirs: Record<string, string>): void {
  const parts = args.split(/\s+/);
  const from = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length);
  const paths = parts.filter((p) => !p.startsWith('--'));
  const dest = paths.pop() as string;
  for (const src of paths) {
    const source = from ? join(dirs[from] as string, relative('/app', src)) : join(ROOT, src);
    const target = dest.endsWith('/') ? join(dir, dest, src.split('/').at(-1) as string) : join(dir, dest.startsWith('/app') ? relative('/app', dest) : dest);
    mkdirSync(dirname(target), { recursive: true });
    // node_modules of another stage is linked, not copied: the same files, without copying ~100 MB per run.
    if (src.endsWith('node_modules')) symlinkSync(source, target, 'dir');
    else cpSync(source, target, { recursive: true });
  }
}

async function rehearseRun(command: string, dir: string): Promise<void> {
  if (command.startsWith('apt-get')) return;
  if (/^npm ci\b/.test(command) && !command.includes('--omit=dev')) {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    return;
  }
  if (/^npm ci\b/.test(command)) {
    symlinkSync(join(await productionDependencies(command), 'node_modules'), join(dir, 'node_modules'), 'dir');
    return;
  }
  const result = await run('sh', ['-c', command], { cwd: dir });
  if (result.code !== 0) throw new Error(`RUN ${command} failed:\n${result.stdout}\n${result.stderr}`);
}

/** `npm ci --omit=dev` once per package-lock.json, in a dir shared by later runs (renamed into place when complete). */
async function productionDependencies(command: string): Promise<string> {
  const lock = readFileSync(join(ROOT, 'package-lock.json'));
  const dir = join(tmpdir(), `sor-prod-deps-${createHash('sha256').update(lock).digest('hex').slice(0, 16)}`);
  if (existsSync(join(dir, 'node_modules'))) return dir;
  const partial = `${dir}.${process.pid}`;
  mkdirSync(partial, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(partial, 'package.json'));
  cpSync(join(ROOT, 'package-lock.json'), join(partial, 'package-lock.json'));
  const result = await run('sh', ['-c', command], { cwd: partial });
  if (result.code !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  try {
    renameSync(partial, dir);
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another run finished first: use its copy
  }
  return dir;
}

/** Package names that compiled files load with require() or import(). */
function importedPackages(dir: string): Set<string> {
  const names = new Set<string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
    const text = readFileSync(join(entry.parentPath, entry.name), 'utf8');
    for (const m of text.matchAll(/\b(?:require|import)\(\s*["']([^"'.][^"']*)["']\s*\)/g)) {
      const spec = m[1] as string;
      if (isBuiltin(spec)) continue;
      names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  }
  return names;
}

/** Polls /readyz (bounded): readiness is a condition to wait for, and the process gives no other signal of it. */
async function waitReady(port: number, proc: ReturnType<typeof startProcess>): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return;
    if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`port ${port} never ready: ${JSON.stringify(proc.output())}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
