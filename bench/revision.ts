/**
 * Another revision of the service, built outside the checkout for
 * bench/before-after.ts: `git archive` of the commit into a temporary
 * directory (only what git tracks, as on a fresh clone), this checkout's
 * node_modules linked in, and that revision's own build
 * (scripts/build-if-needed.js, or `npm run build` where it has none).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Commit {
  sha: string;
  short: string;
  subject: string;
}

function git(root: string, args: string[]): string {
  return execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** The commit `rev` names (a sha, a branch, a tag, HEAD~3, …) in the repository at `root`. */
export function resolveCommit(root: string, rev: string): Commit {
  if (rev === '' || rev.startsWith('-')) throw new Error(`'${rev}' is not a revision`);
  let sha: string;
  try {
    sha = git(root, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  } catch {
    throw new Error(`git does not know the revision '${rev}' in ${root} (a shallow clone may lack it: git fetch --unshallow)`);
  }
  const [short, subject] = git(root, ['log', '-1', '--format=%h%x00%s', sha]).split('\0');
  return { sha, short, subject };
}

/** What the service is built from (package.json's dependencies come from the one node_modules both sides share). */
const BUILD_INPUTS = ['src', 'ormconfig.ts', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'];

/** Whether the working tree differs from HEAD in what the service is built from (untracked files included). */
export function buildInputsChanged(root: string): boolean {
  return git(root, ['status', '--porcelain', '--', ...BUILD_INPUTS]) !== '';
}

/** Whether commit `from` and commit `to` (or, without it, the tracked files of the working tree) build from different sources. */
export function buildInputsDiffer(root: string, from: string, to?: string): boolean {
  try {
    git(root, ['diff', '--quiet', from, ...(to === undefined ? [] : [to]), '--', ...BUILD_INPUTS]);
    return false;
  } catch {
    return true;
  }
}

interface PackageJson {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function readPackage(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Packages whose version the two package.json files state differently (the revision runs on this checkout's node_modules). */
function dependencyDifferences(theirs: PackageJson, ours: PackageJson): string[] {
  const all = (p: PackageJson): Record<string, string> => ({ ...p.devDependencies, ...p.dependencies });
  const [a, b] = [all(theirs), all(ours)];
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((name) => a[name] !== b[name])
    .sort()
    .map((name) => `${name} ${a[name] ?? '(none)'} there, ${b[name] ?? '(none)'} here`);
}

export class RevisionBuild {
  /** The temporary directory holding the revision's files. */
  readonly dir: string;
  /** Its build output, holding main.js once build() is done. */
  readonly dist: string;
  private child: ChildProcess | undefined;

  constructor(
    private readonly root: string,
    readonly commit: Commit,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `bench-rev-${commit.short}-`));
    this.dist = join(this.dir, 'dist');
  }

  /** Extracts the revision and builds it; `timeoutMs` bounds the build. */
  async build(log: (line: string) => void, timeoutMs = 10 * 60_000): Promise<void> {
    const tar = join(this.dir, '.revision.tar');
    git(this.root, ['archive', '--format=tar', '-o', tar, this.commit.sha]);
    execFileSync('tar', ['-xf', tar, '-C', this.dir]);
    unlinkSync(tar);
    symlinkSync(realpathSync(join(this.root, 'node_modules')), join(this.dir, 'node_modules'), 'dir');
    const theirs = readPackage(this.dir);
    const differences = dependencyDifferences(theirs, readPackage(this.root));
    if (differences.length > 0)
      log(
        `  note: ${this.commit.short} asks for other package versions than this checkout's node_modules, which it runs on: ${differences.join('; ')}`,
      );
    const ownScript = join(this.dir, 'scripts', 'build-if-needed.js');
    const [command, args, what] = existsSync(ownScript)
      ? [process.execPath, [ownScript], 'scripts/build-if-needed.js']
      : ['npm', ['run', '--silent', 'build'], `npm run build (${theirs.scripts?.build ?? 'no build script'})`];
    log(`  building ${this.commit.short} in ${this.dir} with its ${what}`);
    await this.run(command, args, timeoutMs);
    if (!existsSync(join(this.dist, 'main.js'))) throw new Error(`building ${this.commit.short} made no dist/main.js in ${this.dir}`);
  }

  /** Runs the build in its own process group, so a timeout or remove() ends the compiler it starts too. */
  private run(command: string, args: string[], timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { cwd: this.dir, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
      this.child = child;
      const timer = setTimeout(() => {
        this.kill();
        reject(new Error(`building ${this.commit.short} took longer than ${timeoutMs / 1000} s`));
      }, timeoutMs);
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.child = undefined;
        if (code === 0) resolve();
        else reject(new Error(`building ${this.commit.short} failed (${signal ?? `exit code ${code}`}); its output is above`));
      });
    });
  }

  private kill(): void {
    if (this.child?.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Stops a build still running and deletes the directory (the node_modules link, not what it points to). */
  async remove(): Promise<void> {
    const child = this.child;
    if (child !== undefined) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      this.kill();
      await gone;
    }
    rmSync(join(this.dir, 'node_modules'), { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
