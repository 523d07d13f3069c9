// proxy/: header hygiene, the streaming forwarder (undici dispatch straight into the client's response), and
// Kubernetes Status bodies for every failure the client sees.
export { outboundHeaders, inboundHeaders, isCredentialHeader, assertNoClientCredentials } from './headers.ts';
export { forward, upstreamError, type ForwardOutcome, type ClientRequest, type ClientResponse } from './forward.ts';
export { statusBody, STATUS_HEADERS, type StatusBody } from './status.ts';
