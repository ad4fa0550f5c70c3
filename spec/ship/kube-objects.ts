import { expect } from 'chai';

/** The objects of `app manifest`'s bundle, as the specs read them. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; labels: Record<string, string> };
  readonly [key: string]: unknown;
}

export interface KubeList {
  readonly apiVersion: string;
  readonly kind: string;
  readonly items: KubeObject[];
}

export function itemOf(list: KubeList, kind: string): KubeObject {
  const found = list.items.filter((item) => item.kind === kind);
  expect(found, `one ${kind} in ${list.items.map((i) => i.kind).join(', ')}`).to.have.length(1);
  return found[0] as KubeObject;
}

/** Each object of the bundle against the schema of its kind (kubernetes-models; the Prometheus Operator's for ServiceMonitor). */
export async function validateBundle(list: KubeList): Promise<void> {
  const models: Record<string, () => Promise<new (data: never) => { validate(): void }>> = {
    Deployment: async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
    Service: async () => (await import('kubernetes-models/v1/Service')).Service,
    ConfigMap: async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
    PodDisruptionBudget: async () =>
      (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget,
    HorizontalPodAutoscaler: async () =>
      (await import('kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler')).HorizontalPodAutoscaler,
    Job: async () => (await import('kubernetes-models/batch/v1/Job')).Job,
    ServiceMonitor: async () =>
      (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor')).ServiceMonitor,
  };
  for (const item of list.items) {
    const model = models[item.kind];
    if (!model) throw new Error(`no schema for ${item.kind}`);
    const Model = await model();
    new Model(item as never).validate();
  }
}
