import { type Pod, type PodExit, type PodSpec, startPod } from './kubelet.js';
import type { Service } from './service.js';

export interface DeploymentOptions {
  readonly name: string;
  readonly replicas: number;
  /** The pod template; `name` is the new pod's name. */
  readonly template: (name: string) => PodSpec;
  /** The Service whose selector matches the pods. */
  readonly service: Service;
  /** How long a new pod may take to get Ready (progressDeadlineSeconds, shortened). @default 10000 */
  readonly readyTimeoutMs?: number;
}

/**
 * A Deployment in miniature, with the RollingUpdate strategy at maxSurge 1,
 * maxUnavailable 0: start a new pod, wait until it is Ready, then delete an
 * old one; repeat until all are replaced. As in Kubernetes, a terminating
 * pod no longer counts, so the next surge does not wait for its exit.
 */
export class Deployment {
  readonly #o: DeploymentOptions;
  /** Every pod this deployment created, in order. */
  readonly pods: Pod[] = [];
  #current: Pod[] = [];
  readonly #terminations: Promise<PodExit>[] = [];

  constructor(options: DeploymentOptions) {
    this.#o = options;
  }

  /** The pods that are not terminating. */
  get current(): readonly Pod[] {
    return this.#current;
  }

  /** The pods deleted so far. */
  get terminated(): Pod[] {
    return this.pods.filter((pod) => pod.terminating);
  }

  /** Creates the replicas and waits until all are Ready. */
  async rollout(): Promise<void> {
    const fresh = Array.from({ length: this.#o.replicas }, () => this.#create());
    await Promise.all(fresh.map((pod) => pod.waitUntilReady(this.#o.readyTimeoutMs)));
    this.#current.push(...fresh);
  }

  /** `kubectl rollout restart`: replaces every current pod, one surge at a time. */
  async rollingRestart(): Promise<void> {
    for (const old of [...this.#current]) {
      const fresh = this.#create();
      await fresh.waitUntilReady(this.#o.readyTimeoutMs);
      this.#current = [...this.#current.filter((pod) => pod !== old), fresh];
      this.#terminations.push(old.terminate());
    }
  }

  /** Deletes every pod and waits for all exits, including earlier terminations. */
  async scaleToZero(): Promise<void> {
    for (const pod of this.#current) this.#terminations.push(pod.terminate());
    this.#current = [];
    await Promise.all(this.#terminations);
  }

  #create(): Pod {
    const pod = startPod(this.#o.template(`${this.#o.name}-${this.pods.length + 1}`));
    this.pods.push(pod);
    this.#o.service.add(pod);
    return pod;
  }
}
