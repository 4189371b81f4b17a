// Facts about upstream OpenAPI definitions that @kubernetes/client-node's generated models do not
// carry: which package a model belongs to when its name does not say, which plain strings are
// Quantities, what free-form (`any`) fields really are, and the list/patch extensions from the Go
// struct tags (+patchStrategy, +patchMergeKey, +listType, +listMapKey).
import type { SchemaNode } from '../../machinery/schema.js';

export interface GroupInfo {
  /** Definition-name prefix before `.<version>.<Kind>`. */
  defPrefix: string;
  /** API group name ('' for core). */
  apiGroup: string;
}

/** Client-node API-class and model-class prefixes (`CoreV1Api`, `RbacV1Subject`) → package. */
export const GROUPS: Record<string, GroupInfo> = {
  Core: { defPrefix: 'io.k8s.api.core', apiGroup: '' },
  Admissionregistration: { defPrefix: 'io.k8s.api.admissionregistration', apiGroup: 'admissionregistration.k8s.io' },
  Apiextensions: { defPrefix: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions', apiGroup: 'apiextensions.k8s.io' },
  Apiregistration: { defPrefix: 'io.k8s.kube-aggregator.pkg.apis.apiregistration', apiGroup: 'apiregistration.k8s.io' },
  Apps: { defPrefix: 'io.k8s.api.apps', apiGroup: 'apps' },
  Authentication: { defPrefix: 'io.k8s.api.authentication', apiGroup: 'authentication.k8s.io' },
  Authorization: { defPrefix: 'io.k8s.api.authorization', apiGroup: 'authorization.k8s.io' },
  Autoscaling: { defPrefix: 'io.k8s.api.autoscaling', apiGroup: 'autoscaling' },
  Batch: { defPrefix: 'io.k8s.api.batch', apiGroup: 'batch' },
  Certificates: { defPrefix: 'io.k8s.api.certificates', apiGroup: 'certificates.k8s.io' },
  Coordination: { defPrefix: 'io.k8s.api.coordination', apiGroup: 'coordination.k8s.io' },
  Discovery: { defPrefix: 'io.k8s.api.discovery', apiGroup: 'discovery.k8s.io' },
  Events: { defPrefix: 'io.k8s.api.events', apiGroup: 'events.k8s.io' },
  FlowcontrolApiserver: { defPrefix: 'io.k8s.api.flowcontrol', apiGroup: 'flowcontrol.apiserver.k8s.io' },
  Flowcontrol: { defPrefix: 'io.k8s.api.flowcontrol', apiGroup: 'flowcontrol.apiserver.k8s.io' },
  InternalApiserver: { defPrefix: 'io.k8s.api.apiserverinternal', apiGroup: 'internal.apiserver.k8s.io' },
  Networking: { defPrefix: 'io.k8s.api.networking', apiGroup: 'networking.k8s.io' },
  Node: { defPrefix: 'io.k8s.api.node', apiGroup: 'node.k8s.io' },
  Policy: { defPrefix: 'io.k8s.api.policy', apiGroup: 'policy' },
  RbacAuthorization: { defPrefix: 'io.k8s.api.rbac', apiGroup: 'rbac.authorization.k8s.io' },
  Rbac: { defPrefix: 'io.k8s.api.rbac', apiGroup: 'rbac.authorization.k8s.io' },
  Resource: { defPrefix: 'io.k8s.api.resource', apiGroup: 'resource.k8s.io' },
  Scheduling: { defPrefix: 'io.k8s.api.scheduling', apiGroup: 'scheduling.k8s.io' },
  Storage: { defPrefix: 'io.k8s.api.storage', apiGroup: 'storage.k8s.io' },
  Storagemigration: { defPrefix: 'io.k8s.api.storagemigration', apiGroup: 'storagemigration.k8s.io' },
};

export const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
export const TIME = `${META}.Time`;
export const MICRO_TIME = `${META}.MicroTime`;
export const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
export const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
export const RAW_EXTENSION = 'io.k8s.apimachinery.pkg.runtime.RawExtension';
const APIEXT = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1';

/** Model classes whose package is not their referrer's (shared meta types, cross-group references). */
export const PACKAGE_OVERRIDES: Record<string, string> = {
  V1APIGroup: `${META}.APIGroup`,
  V1APIGroupList: `${META}.APIGroupList`,
  V1APIResource: `${META}.APIResource`,
  V1APIResourceList: `${META}.APIResourceList`,
  V1APIVersions: `${META}.APIVersions`,
  V1Condition: `${META}.Condition`,
  V1DeleteOptions: `${META}.DeleteOptions`,
  V1FieldSelectorRequirement: `${META}.FieldSelectorRequirement`,
  V1GroupVersionForDiscovery: `${META}.GroupVersionForDiscovery`,
  V1LabelSelector: `${META}.LabelSelector`,
  V1LabelSelectorRequirement: `${META}.LabelSelectorRequirement`,
  V1ListMeta: `${META}.ListMeta`,
  V1ManagedFieldsEntry: `${META}.ManagedFieldsEntry`,
  V1ObjectMeta: `${META}.ObjectMeta`,
  V1OwnerReference: `${META}.OwnerReference`,
  V1Preconditions: `${META}.Preconditions`,
  V1ServerAddressByClientCIDR: `${META}.ServerAddressByClientCIDR`,
  V1Status: `${META}.Status`,
  V1StatusCause: `${META}.StatusCause`,
  V1StatusDetails: `${META}.StatusDetails`,
  V1WatchEvent: `${META}.WatchEvent`,
  VersionInfo: 'io.k8s.apimachinery.pkg.version.Info',
  // Served by apps and core (…/scale) but defined in autoscaling/v1.
  V1Scale: 'io.k8s.api.autoscaling.v1.Scale',
  V1ScaleSpec: 'io.k8s.api.autoscaling.v1.ScaleSpec',
  V1ScaleStatus: 'io.k8s.api.autoscaling.v1.ScaleStatus',
  // pods/eviction is served by core but the type lives in policy/v1.
  V1Eviction: 'io.k8s.api.policy.v1.Eviction',
  // Core types reachable only from storage.k8s.io StorageClass.
  V1TopologySelectorTerm: 'io.k8s.api.core.v1.TopologySelectorTerm',
  V1TopologySelectorLabelRequirement: 'io.k8s.api.core.v1.TopologySelectorLabelRequirement',
};

/** Definitions client-node has no class for; their structure is fixed by hand after upstream. */
export const SYNTHETIC: Record<string, SchemaNode> = {
  [TIME]: {
    type: 'string',
    format: 'date-time',
    description: 'Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.  Wrappers are provided for many of the factory methods that the time package offers.',
  },
  [MICRO_TIME]: {
    type: 'string',
    format: 'date-time',
    description: 'MicroTime is version of Time with microsecond level precision.',
  },
  [INT_OR_STRING]: {
    description:
      'IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.',
    format: 'int-or-string',
    oneOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
  },
  [QUANTITY]: {
    description:
      'Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.  The serialization format is:  <quantity> ::= <signedNumber><suffix>  (Note that <suffix> may be empty, from the "" case in <decimalSI>.)  <digit> ::= 0 | 1 | ... | 9 <digits> ::= <digit> | <digit><digits> <number> ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign> ::= "+" | "-" <signedNumber> ::= <number> | <sign><number> <suffix> ::= <binarySI> | <decimalExponent> | <decimalSI> <binarySI> ::= Ki | Mi | Gi | Ti | Pi | Ei  <decimalSI> ::= m | "" | k | M | G | T | P | E  <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>',
    oneOf: [{ type: 'string' }, { type: 'number' }],
    'x-kubernetes-int-or-string': true,
  },
  [RAW_EXTENSION]: {
    type: 'object',
    description: 'RawExtension is used to hold extensions in external versions. The object it holds is embedded verbatim (any JSON, usually a complete object with apiVersion and kind).',
    'x-kubernetes-preserve-unknown-fields': true,
  },
  [`${META}.FieldsV1`]: {
    type: 'object',
    description: 'FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format.',
    'x-kubernetes-preserve-unknown-fields': true,
  },
  [`${META}.Patch`]: {
    type: 'object',
    description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.',
  },
  [`${APIEXT}.JSON`]: {
    description: 'JSON represents any valid JSON value. These types are supported: bool, int64, float64, string, []interface{}, map[string]interface{} and nil.',
  },
  [`${APIEXT}.JSONSchemaPropsOrBool`]: {
    description: 'JSONSchemaPropsOrBool represents JSONSchemaProps or a boolean value. Defaults to true for the boolean property.',
  },
  [`${APIEXT}.JSONSchemaPropsOrArray`]: {
    description: 'JSONSchemaPropsOrArray represents a value that can either be a JSONSchemaProps or an array of JSONSchemaProps. Mainly here for serialization purposes.',
  },
  [`${APIEXT}.JSONSchemaPropsOrStringArray`]: {
    description: 'JSONSchemaPropsOrStringArray represents a JSONSchemaProps or a string array.',
  },
  [`${APIEXT}.CustomResourceSubresourceStatus`]: {
    type: 'object',
    description:
      'CustomResourceSubresourceStatus defines how to serve the status subresource for CustomResources. Status is represented by the `.status` JSON path inside of a CustomResource. When set, * exposes a /status subresource for the custom resource * PUT requests to the /status subresource take a custom resource object, and ignore changes to anything except the status stanza * PUT/POST/PATCH requests to the custom resource ignore changes to the status stanza',
  },
};

// Keys below are definition names without their common prefix ("core.v1.PodSpec"), then the field.

/** Fields client-node types as `any` whose upstream type is not RawExtension (the default). */
export const ANY_FIELDS: Record<string, string> = {
  'meta.v1.ManagedFieldsEntry.fieldsV1': `${META}.FieldsV1`,
  'apiextensions.v1.CustomResourceSubresources.status': `${APIEXT}.CustomResourceSubresourceStatus`,
  'apiextensions.v1.JSONSchemaProps.default': `${APIEXT}.JSON`,
  'apiextensions.v1.JSONSchemaProps.example': `${APIEXT}.JSON`,
  'apiextensions.v1.JSONSchemaProps.enum': `${APIEXT}.JSON`,
  'apiextensions.v1.JSONSchemaProps.additionalItems': `${APIEXT}.JSONSchemaPropsOrBool`,
  'apiextensions.v1.JSONSchemaProps.additionalProperties': `${APIEXT}.JSONSchemaPropsOrBool`,
  'apiextensions.v1.JSONSchemaProps.items': `${APIEXT}.JSONSchemaPropsOrArray`,
  'apiextensions.v1.JSONSchemaProps.dependencies': `${APIEXT}.JSONSchemaPropsOrStringArray`,
};

/** String fields (or string-valued maps) that are resource.Quantity upstream. */
export const QUANTITY_FIELDS = new Set([
  'core.v1.ResourceRequirements.limits',
  'core.v1.ResourceRequirements.requests',
  'core.v1.VolumeResourceRequirements.limits',
  'core.v1.VolumeResourceRequirements.requests',
  'core.v1.ResourceQuotaSpec.hard',
  'core.v1.ResourceQuotaStatus.hard',
  'core.v1.ResourceQuotaStatus.used',
  'core.v1.LimitRangeItem.default',
  'core.v1.LimitRangeItem.defaultRequest',
  'core.v1.LimitRangeItem.max',
  'core.v1.LimitRangeItem.min',
  'core.v1.LimitRangeItem.maxLimitRequestRatio',
  'core.v1.NodeStatus.allocatable',
  'core.v1.NodeStatus.capacity',
  'core.v1.PersistentVolumeSpec.capacity',
  'core.v1.PersistentVolumeClaimStatus.capacity',
  'core.v1.PersistentVolumeClaimStatus.allocatedResources',
  'core.v1.EmptyDirVolumeSource.sizeLimit',
  'core.v1.ResourceFieldSelector.divisor',
  'core.v1.PodSpec.overhead',
  'core.v1.ContainerStatus.allocatedResources',
  'autoscaling.v2.MetricTarget.value',
  'autoscaling.v2.MetricTarget.averageValue',
  'autoscaling.v2.MetricValueStatus.value',
  'autoscaling.v2.MetricValueStatus.averageValue',
  'storage.v1.CSIStorageCapacity.capacity',
  'storage.v1.CSIStorageCapacity.maximumVolumeSize',
  'node.v1.Overhead.podFixed',
  'resource.v1.DeviceCapacity.value',
  'resource.v1.Counter.value',
]);

type Ext = Partial<SchemaNode>;
/** patchStrategy=merge + patchMergeKey, served as a list-map keyed by `keys` (default: the merge key). */
const mergeMap = (mergeKey: string, ...keys: string[]): Ext => ({
  'x-kubernetes-list-map-keys': keys.length ? keys : [mergeKey],
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-patch-merge-key': mergeKey,
  'x-kubernetes-patch-strategy': 'merge',
});
const mergeAtomic = (mergeKey: string): Ext => ({ 'x-kubernetes-list-type': 'atomic', 'x-kubernetes-patch-merge-key': mergeKey, 'x-kubernetes-patch-strategy': 'merge' });
const mergeSet: Ext = { 'x-kubernetes-list-type': 'set', 'x-kubernetes-patch-strategy': 'merge' };
const listMap = (...keys: string[]): Ext => ({ 'x-kubernetes-list-map-keys': keys, 'x-kubernetes-list-type': 'map' });
const atomic: Ext = { 'x-kubernetes-list-type': 'atomic' };
const set: Ext = { 'x-kubernetes-list-type': 'set' };
const conditions = mergeMap('type');

/** Extensions per field, after the upstream Go struct tags (k8s.io/api 1.32–1.34). */
export const FIELD_EXTENSIONS: Record<string, Ext> = {
  'meta.v1.ObjectMeta.ownerReferences': mergeMap('uid'),
  'meta.v1.ObjectMeta.finalizers': mergeSet,
  'meta.v1.ObjectMeta.managedFields': atomic,
  'meta.v1.LabelSelector.matchExpressions': atomic,
  'meta.v1.LabelSelectorRequirement.values': atomic,
  'meta.v1.StatusDetails.causes': atomic,
  'core.v1.PodSpec.containers': mergeMap('name'),
  'core.v1.PodSpec.initContainers': mergeMap('name'),
  'core.v1.PodSpec.ephemeralContainers': mergeMap('name'),
  'core.v1.PodSpec.volumes': { ...mergeMap('name'), 'x-kubernetes-patch-strategy': 'merge,retainKeys' },
  'core.v1.PodSpec.imagePullSecrets': mergeMap('name'),
  'core.v1.PodSpec.hostAliases': mergeMap('ip'),
  'core.v1.PodSpec.topologySpreadConstraints': mergeMap('topologyKey', 'topologyKey', 'whenUnsatisfiable'),
  'core.v1.PodSpec.schedulingGates': mergeMap('name'),
  'core.v1.PodSpec.resourceClaims': { ...mergeMap('name'), 'x-kubernetes-patch-strategy': 'merge,retainKeys' },
  'core.v1.PodSpec.tolerations': atomic,
  'core.v1.PodSpec.readinessGates': atomic,
  'core.v1.PodSecurityContext.supplementalGroups': atomic,
  'core.v1.PodSecurityContext.sysctls': atomic,
  'core.v1.PodDNSConfig.nameservers': atomic,
  'core.v1.PodDNSConfig.searches': atomic,
  'core.v1.PodDNSConfig.options': atomic,
  'core.v1.HostAlias.hostnames': atomic,
  'core.v1.Container.ports': mergeMap('containerPort', 'containerPort', 'protocol'),
  'core.v1.Container.env': mergeMap('name'),
  'core.v1.Container.volumeMounts': mergeMap('mountPath'),
  'core.v1.Container.volumeDevices': mergeMap('devicePath'),
  'core.v1.Container.command': atomic,
  'core.v1.Container.args': atomic,
  'core.v1.Container.envFrom': atomic,
  'core.v1.Container.resizePolicy': atomic,
  'core.v1.EphemeralContainer.ports': mergeMap('containerPort', 'containerPort', 'protocol'),
  'core.v1.EphemeralContainer.env': mergeMap('name'),
  'core.v1.EphemeralContainer.volumeMounts': mergeMap('mountPath'),
  'core.v1.EphemeralContainer.volumeDevices': mergeMap('devicePath'),
  'core.v1.EphemeralContainer.command': atomic,
  'core.v1.EphemeralContainer.args': atomic,
  'core.v1.EphemeralContainer.envFrom': atomic,
  'core.v1.Capabilities.add': atomic,
  'core.v1.Capabilities.drop': atomic,
  'core.v1.ExecAction.command': atomic,
  'core.v1.HTTPGetAction.httpHeaders': atomic,
  'core.v1.ResourceRequirements.claims': listMap('name'),
  'core.v1.NodeSelector.nodeSelectorTerms': atomic,
  'core.v1.NodeSelectorTerm.matchExpressions': atomic,
  'core.v1.NodeSelectorTerm.matchFields': atomic,
  'core.v1.NodeSelectorRequirement.values': atomic,
  'core.v1.NodeAffinity.preferredDuringSchedulingIgnoredDuringExecution': atomic,
  'core.v1.PodAffinity.requiredDuringSchedulingIgnoredDuringExecution': atomic,
  'core.v1.PodAffinity.preferredDuringSchedulingIgnoredDuringExecution': atomic,
  'core.v1.PodAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution': atomic,
  'core.v1.PodAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution': atomic,
  'core.v1.PodAffinityTerm.namespaces': atomic,
  'core.v1.PodAffinityTerm.matchLabelKeys': atomic,
  'core.v1.PodAffinityTerm.mismatchLabelKeys': atomic,
  'core.v1.TopologySpreadConstraint.matchLabelKeys': atomic,
  'core.v1.ConfigMapVolumeSource.items': atomic,
  'core.v1.SecretVolumeSource.items': atomic,
  'core.v1.ProjectedVolumeSource.sources': atomic,
  'core.v1.DownwardAPIVolumeSource.items': atomic,
  'core.v1.PodStatus.conditions': conditions,
  'core.v1.PodStatus.podIPs': mergeMap('ip'),
  'core.v1.PodStatus.hostIPs': mergeAtomic('ip'),
  'core.v1.PodStatus.containerStatuses': atomic,
  'core.v1.PodStatus.initContainerStatuses': atomic,
  'core.v1.PodStatus.ephemeralContainerStatuses': atomic,
  'core.v1.NodeSpec.podCIDRs': mergeSet,
  'core.v1.NodeSpec.taints': atomic,
  'core.v1.NodeStatus.conditions': conditions,
  'core.v1.NodeStatus.addresses': conditions,
  'core.v1.NodeStatus.images': atomic,
  'core.v1.NodeStatus.volumesInUse': atomic,
  'core.v1.NodeStatus.volumesAttached': atomic,
  'core.v1.ServiceSpec.ports': mergeMap('port', 'port', 'protocol'),
  'core.v1.ServiceSpec.externalIPs': atomic,
  'core.v1.ServiceSpec.clusterIPs': atomic,
  'core.v1.ServiceSpec.ipFamilies': atomic,
  'core.v1.ServiceSpec.loadBalancerSourceRanges': atomic,
  'core.v1.ServiceStatus.conditions': conditions,
  'core.v1.LoadBalancerStatus.ingress': atomic,
  'core.v1.ServiceAccount.secrets': mergeMap('name'),
  'core.v1.ServiceAccount.imagePullSecrets': atomic,
  'core.v1.NamespaceSpec.finalizers': atomic,
  'core.v1.NamespaceStatus.conditions': conditions,
  'core.v1.PersistentVolumeClaimSpec.accessModes': atomic,
  'core.v1.PersistentVolumeClaimStatus.conditions': conditions,
  'core.v1.PersistentVolumeClaimStatus.accessModes': atomic,
  'core.v1.PersistentVolumeSpec.accessModes': atomic,
  'core.v1.PersistentVolumeSpec.mountOptions': atomic,
  'core.v1.ReplicationControllerStatus.conditions': conditions,
  'core.v1.Endpoints.subsets': atomic,
  'core.v1.EndpointSubset.addresses': atomic,
  'core.v1.EndpointSubset.notReadyAddresses': atomic,
  'core.v1.EndpointSubset.ports': atomic,
  'core.v1.ResourceQuotaSpec.scopes': atomic,
  'core.v1.ScopeSelector.matchExpressions': atomic,
  'core.v1.LimitRangeSpec.limits': atomic,
  'apps.v1.DeploymentSpec.strategy': { 'x-kubernetes-patch-strategy': 'retainKeys' },
  'apps.v1.DeploymentStatus.conditions': conditions,
  'apps.v1.ReplicaSetStatus.conditions': conditions,
  'apps.v1.StatefulSetStatus.conditions': conditions,
  'apps.v1.DaemonSetStatus.conditions': conditions,
  'apps.v1.StatefulSetSpec.volumeClaimTemplates': atomic,
  'batch.v1.JobStatus.conditions': mergeAtomic('type'),
  'batch.v1.CronJobStatus.active': atomic,
  'batch.v1.PodFailurePolicy.rules': atomic,
  'batch.v1.SuccessPolicy.rules': atomic,
  'autoscaling.v2.HorizontalPodAutoscalerSpec.metrics': atomic,
  'autoscaling.v2.HorizontalPodAutoscalerStatus.conditions': conditions,
  'autoscaling.v2.HorizontalPodAutoscalerStatus.currentMetrics': atomic,
  'autoscaling.v2.HPAScalingRules.policies': atomic,
  'policy.v1.PodDisruptionBudgetSpec.selector': { 'x-kubernetes-patch-strategy': 'replace' },
  'policy.v1.PodDisruptionBudgetStatus.conditions': conditions,
  'networking.v1.NetworkPolicySpec.ingress': atomic,
  'networking.v1.NetworkPolicySpec.egress': atomic,
  'networking.v1.NetworkPolicySpec.policyTypes': atomic,
  'networking.v1.NetworkPolicyIngressRule.ports': atomic,
  'networking.v1.NetworkPolicyIngressRule.from': atomic,
  'networking.v1.NetworkPolicyEgressRule.ports': atomic,
  'networking.v1.NetworkPolicyEgressRule.to': atomic,
  'networking.v1.IngressSpec.rules': atomic,
  'networking.v1.IngressSpec.tls': atomic,
  'networking.v1.IngressTLS.hosts': atomic,
  'networking.v1.HTTPIngressRuleValue.paths': atomic,
  'rbac.v1.Role.rules': atomic,
  'rbac.v1.ClusterRole.rules': atomic,
  'rbac.v1.RoleBinding.subjects': atomic,
  'rbac.v1.ClusterRoleBinding.subjects': atomic,
  'rbac.v1.PolicyRule.verbs': atomic,
  'rbac.v1.PolicyRule.apiGroups': atomic,
  'rbac.v1.PolicyRule.resources': atomic,
  'rbac.v1.PolicyRule.resourceNames': atomic,
  'rbac.v1.PolicyRule.nonResourceURLs': atomic,
  'discovery.v1.EndpointSlice.endpoints': atomic,
  'discovery.v1.EndpointSlice.ports': atomic,
  'discovery.v1.Endpoint.addresses': set,
  'apiextensions.v1.CustomResourceDefinitionSpec.versions': atomic,
  'apiextensions.v1.CustomResourceDefinitionStatus.conditions': listMap('type'),
  'apiextensions.v1.CustomResourceDefinitionStatus.storedVersions': atomic,
  'apiextensions.v1.CustomResourceDefinitionNames.shortNames': atomic,
  'apiextensions.v1.CustomResourceDefinitionNames.categories': atomic,
  'apiregistration.v1.APIServiceStatus.conditions': listMap('type'),
};
