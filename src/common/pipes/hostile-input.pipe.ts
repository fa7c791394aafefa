import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import type { ErrorDetail } from '../errors/domain-errors';
import { validationFailed } from './validation';

/** Deeper bodies are refused before any recursive code (Nest's key stripping, class-transformer) walks them. */
export const MAX_BODY_DEPTH = 32;
/** A UTF-16 surrogate without its other half: JSON lets `"\ud800"` through, UTF-8 storage cannot keep it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Keys that name something every object has (`constructor`, `__proto__`,
 * `toString`, `hasOwnProperty`…) or `prototype`. Nest's ValidationPipe deletes
 * `constructor`/`prototype`/`__proto__`, and class-transformer skips any key
 * whose instance value is a function, so the whitelist never sees them and
 * `{"toString": 1}` would pass as valid; a nested `{"constructor": "x"}` even
 * makes class-transformer throw (it takes the value for the class to build).
 */
function isPrototypeKey(key: string): boolean {
  return key in Object.prototype || key === 'prototype';
}

/** Where a problem was found: the body's own key, or a dotted path below it (`account.0.constructor`). */
function pathOf(parent: string | undefined, key: string): string {
  return parent === undefined ? key : `${parent}.${key}`;
}

/**
 * What no DTO can make valid, found in one iterative walk (a hostile depth must
 * not overflow the stack): nesting deeper than MAX_BODY_DEPTH, strings or keys
 * that are not Unicode text (the database or the cipher would silently turn a
 * lone surrogate into U+FFFD, so a 2xx would store something else than what was
 * sent), and prototype keys at any depth. Depth and text problems answer alone;
 * prototype keys are unknown fields and are all named, like the whitelist names them.
 */
export function hostileInputProblems(body: object): ErrorDetail[] {
  // [value, depth, path of the value (undefined: the body itself)]
  const stack: [unknown, number, string | undefined][] = [[body, 0, undefined]];
  const unknown: ErrorDetail[] = [];
  while (stack.length > 0) {
    const [node, depth, path] = stack.pop()!;
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node)) return [{ field: path ?? 'body', message: 'must be valid Unicode text (it holds a lone surrogate)' }];
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= MAX_BODY_DEPTH) return [{ field: 'body', message: `nests deeper than ${MAX_BODY_DEPTH} levels` }];
    const isArray = Array.isArray(node);
    // Array items of a top-level array are `body.0`, `body.1`…
    const parent = path ?? (isArray ? 'body' : undefined);
    const keys = Object.keys(node);
    for (const key of keys) {
      if (LONE_SURROGATE.test(key)) return [{ field: 'body', message: 'keys must be valid Unicode text' }];
      if (!isArray && isPrototypeKey(key)) unknown.push({ field: pathOf(parent, key), message: `property ${key} should not exist` });
    }
    // Pushed last to first, so values are looked at (and problems named) in the body's order.
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (isArray || !isPrototypeKey(key)) stack.push([(node as Record<string, unknown>)[key], depth + 1, pathOf(parent, key)]);
    }
  }
  return unknown;
}

/**
 * The first global pipe (APP_PIPE in AppModule), for `@Body()` parameters:
 * refuses with a 400 what no DTO accepts (see hostileInputProblems) before the
 * ValidationPipe, Nest's key stripping or class-transformer walk the body.
 * Bodies read through a custom decorator (IntegrationBody) do not get here as
 * `body`: their pipe calls this one first, explicitly. Synchronous: it runs for
 * every parameter of every route, and answers all but bodies at once.
 */
@Injectable()
export class HostileInputPipe implements PipeTransform<unknown, unknown> {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' || typeof value !== 'object' || value === null) return value;
    const problems = hostileInputProblems(value);
    if (problems.length > 0) throw validationFailed(problems);
    return value;
  }
}
