export { type DecisionConfig, decisionConfigSchema } from './config.js';
export { isRemovableHeader, isValidHeaderName, isValidHeaderValue } from './headers.js';
export { type HttpAuthzResponse, toHttpResponse } from './http-response.js';
export {
  createResponder,
  type DenyBody,
  denyBody,
  denyHttpStatus,
  dynamicMetadata,
  type Responder,
  type ResponseContext,
  wwwAuthenticate,
} from './respond.js';
