// What runs next to the API in the control-plane process: the controller manager's controllers,
// the scheduler, the metrics sampler, and (k3s-style, the fast default) the kubelets of the
// cluster's configured nodes, each with its own runtime directory.
import path from 'node:path';
import type { ApiClient } from '../client/client.js';
import { ReplicaSetController } from '../controllers/replicaset.js';
import { DeploymentController } from '../controllers/deployment/index.js';
import { EndpointsController } from '../controllers/endpoints.js';
import { EndpointSliceController } from '../controllers/endpointslice.js';
import { NodeLifecycleController } from '../controllers/node-lifecycle.js';
import { Scheduler } from '../scheduler/index.js';
import { JobController, TTLAfterFinishedController } from '../controllers/job/index.js';
import { CronJobController } from '../controllers/cronjob/index.js';
import { DaemonSetController } from '../controllers/daemonset/index.js';
import { StatefulSetController } from '../controllers/statefulset/index.js';
import { LoadBalancerController } from '../controllers/loadbalancer.js';
import { DisruptionController } from '../controllers/disruption.js';
import { ResourceQuotaController } from '../controllers/resourcequota.js';
import { LOCAL_PATH_PROVISIONER, LocalPathProvisioner, PersistentVolumeController, StorageProtectionController } from '../controllers/volume/index.js';
import { NodeAgent } from '../kubelet/node-agent.js';
import { ProcessRuntime } from '../kubelet/runtime/process/runtime.js';
import type { NodeConfig } from '../cluster/config.js';
import type { KubeletTls } from '../kubelet/server.js';

export const LOAD_BALANCER_POOL = '127.112.0.0/16';

interface Component {
  start(): Promise<void>;
  stop(): void | Promise<void>;
}

export interface ControllerManager {
  stop(): Promise<void>;
}

/** The controllers and the scheduler, all acting through in-process clients of their own. */
export async function startControllers(client: (identity: string) => ApiClient, opts: { stateDir: string; log: (line: string) => void }): Promise<ControllerManager> {
  const { log } = opts;
  const components: Component[] = [
    new ReplicaSetController(client('system:controller:replicaset-controller'), { log }),
    new DeploymentController(client('system:controller:deployment-controller'), { log }),
    new EndpointsController(client('system:controller:endpoint-controller'), { log }),
    new EndpointSliceController(client('system:controller:endpointslice-controller'), { log }),
    new NodeLifecycleController(client('system:controller:node-controller'), { log }),
    new JobController(client('system:controller:job-controller'), { log }),
    new CronJobController(client('system:controller:cronjob-controller'), { log }),
    new TTLAfterFinishedController(client('system:controller:ttl-after-finished-controller'), { log }),
    new DaemonSetController(client('system:controller:daemon-set-controller'), { log }),
    new StatefulSetController(client('system:controller:statefulset-controller'), { log }),
    // MetalLB's role: LoadBalancer Services get an address on the host's loopback network.
    new LoadBalancerController(client('system:controller:loadbalancer-controller'), { pool: LOAD_BALANCER_POOL, log }),
    new DisruptionController(client('system:controller:disruption-controller'), { log }),
    new ResourceQuotaController(client('system:controller:resourcequota-controller'), { log }),
    new PersistentVolumeController(client('system:controller:persistent-volume-binder'), { log }),
    new StorageProtectionController(client('system:controller:pvc-protection-controller'), { log }),
    // kind's default StorageClass provisioner; the workshop's minikube/docker hostpath classes too.
    new LocalPathProvisioner(client('system:serviceaccount:local-path-storage:local-path-provisioner-service-account'), {
      baseDir: path.join(opts.stateDir, 'volumes'),
      provisionerName: LOCAL_PATH_PROVISIONER,
      aliases: ['k8s.io/minikube-hostpath', 'docker.io/hostpath', 'microk8s.io/hostpath'],
      log,
    }),
    new Scheduler(client('system:kube-scheduler'), { log }),
  ];
  await Promise.all(components.map((c) => c.start()));
  return {
    async stop() {
      for (const c of components) await c.stop();
    },
  };
}

export interface LocalNodes {
  agents: NodeAgent[];
  /** `stopPods`: stopping the cluster stops every container; a crash-restart leaves them to be adopted. */
  stop(stopPods: boolean): Promise<void>;
}

/** Kubelets for the cluster's configured nodes, hosted in this process. */
export async function startLocalNodes(opts: {
  nodes: NodeConfig[];
  client: (identity: string) => ApiClient;
  stateDir: string;
  /** Where pods send DNS queries (ip, or ip:port when not 53). */
  clusterDNS: string[];
  tls: (nodeName: string) => Promise<KubeletTls>;
  log: (line: string) => void;
}): Promise<LocalNodes> {
  const hasWorkers = opts.nodes.some((n) => n.role === 'worker');
  const agents = await Promise.all(
    opts.nodes.map(async (n) => {
      const rootDir = path.join(opts.stateDir, 'nodes', n.name);
      return new NodeAgent({
        client: opts.client(`system:node:${n.name}`),
        nodeName: n.name,
        role: n.role,
        labels: n.labels,
        // kind taints control-plane nodes only when there are workers to run the pods.
        taints: n.role === 'control-plane' && hasWorkers ? [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] : [],
        kubeletPort: 0,
        rootDir,
        runtime: new ProcessRuntime({ stateDir: path.join(rootDir, 'runtime') }),
        tls: await opts.tls(n.name),
        clusterDNS: opts.clusterDNS,
        log: opts.log,
      });
    }),
  );
  await Promise.all(agents.map((a) => a.start()));
  return {
    agents,
    async stop(stopPods) {
      await Promise.all(agents.map((a) => a.stop(stopPods)));
    },
  };
}
