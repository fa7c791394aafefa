import { type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { IS_PUBLIC, REQUIRED_SCOPE, TENANT_PARAM } from './auth.decorators';
import type { ScopeName } from './scopes';

/** What a route asks of its caller, from its decorators. */
export interface RouteAccess {
  readonly isPublic: boolean;
  readonly scope: ScopeName | undefined;
  /** The path parameter holding the tenant the route acts on (@ActsOnTenant). */
  readonly tenantParam: string | undefined;
}

/**
 * Reads a route's auth decorators once and keeps the answer: the three global
 * guards all need it on every request, and the metadata never changes.
 */
@Injectable()
export class RouteAccessReader {
  /** Per controller class, then per handler: a method could be shared by two classes with different decorators. */
  private readonly routes = new WeakMap<object, WeakMap<object, RouteAccess>>();

  constructor(private readonly reflector: Reflector) {}

  of(context: ExecutionContext): RouteAccess {
    const handler = context.getHandler();
    const controller = context.getClass();
    let handlers = this.routes.get(controller);
    if (handlers === undefined) this.routes.set(controller, (handlers = new WeakMap()));
    let access = handlers.get(handler);
    if (access === undefined) {
      const targets = [handler, controller];
      access = Object.freeze({
        isPublic: this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets) === true,
        scope: this.reflector.getAllAndOverride<ScopeName | undefined>(REQUIRED_SCOPE, targets),
        tenantParam: this.reflector.getAllAndOverride<string | undefined>(TENANT_PARAM, targets),
      });
      handlers.set(handler, access);
    }
    return access;
  }
}
