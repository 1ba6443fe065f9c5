import type { Express } from 'express';

export interface RouteInfo {
  method: string;
  path: string;
  /** For staff routes: the roles requireRole lets through. */
  staffRoles?: string[];
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean>; stack: Layer[] };
  handle?: { stack?: Layer[]; staffRoles?: string[] };
}

/** Every route the app answers, read from its router (so a new route is fuzzed without a list to update). */
export function listRoutes(app: Express): RouteInfo[] {
  const routes: RouteInfo[] = [];
  const visit = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        const staffRoles = layer.route.stack.find((l) => l.handle?.staffRoles)?.handle?.staffRoles;
        for (const path of paths)
          for (const [method, on] of Object.entries(layer.route.methods))
            if (on && method !== '_all')
              routes.push({ method: method.toUpperCase(), path, ...(staffRoles ? { staffRoles } : {}) });
      } else if (layer.handle?.stack) {
        visit(layer.handle.stack);
      }
    }
  };
  visit((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return routes;
}
