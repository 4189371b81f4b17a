// kubectl ≥ 1.32 request bodies in Kubernetes' protobuf envelope ("k8s\0" + runtime.Unknown).
export { decodeProtobufObject, isProtobufEnvelope, PROTOBUF_CONTENT_TYPE } from './decode.js';
