import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';

export type ApiDocs = OpenAPIRegistry;

/** Builds the OpenAPI 3.1 document from the same zod schemas the routes validate with. */
export function buildOpenApiDocument(registerAll: ((docs: ApiDocs) => void)[], serverUrl: string) {
  const registry = new OpenAPIRegistry();
  for (const register of registerAll) register(registry);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Membership drive API',
      version: '0.1.0',
      description:
        'Memberships, gifts, campaign progress and newsletters for a reader-funded newsroom. ' +
        'Errors always have the shape {"error": {"code", "message", "details"}}.',
    },
    servers: [{ url: serverUrl }],
  });
}

export function docsRoutes(document: object): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.use('/docs', swaggerUi.serve);
  router.get('/docs', swaggerUi.setup(document, { customSiteTitle: 'Membership drive API' }));
  return router;
}
