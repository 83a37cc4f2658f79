export { type DecisionConfig, decisionConfigSchema } from './config.js';
export { type DenyBody, denyBody, denyHttpStatus, wwwAuthenticate } from './deny.js';
export { isRemovableHeader, isValidHeaderName, isValidHeaderValue } from './headers.js';
export { type HttpAuthzResponse, toHttpResponse } from './http-response.js';
export {
  createResponder,
  dynamicMetadata,
  type Responder,
  type ResponseContext,
} from './respond.js';
