// The service proxy (kube-proxy's role): see README.md in this directory.
export { ServiceProxy, type ServiceProxyOptions, type ProxyMode } from './service-proxy.js';
export { UserspaceProxy, type UserspaceOptions } from './userspace.js';
export { NftablesProxy, renderTransaction, kernelCapable, nftPossible, nftUsable, openKernelProxy } from './nftables.js';
export { Balancer, type PickContext } from './balancer.js';
export {
  ALGORITHM_ANNOTATION,
  ALGORITHMS,
  DEFAULT_AFFINITY_TIMEOUT_S,
  buildServicePorts,
  frontendsOf,
  type Algorithm,
  type Endpoint,
  type Frontend,
  type ProxyServicePort,
} from './model.js';
