import { describe, expect, it } from 'vitest';
import { replicasFor } from '../../services/bus/replicaCount.ts';

describe('replicas for new streams and buckets', () => {
  it('is 1 on a server outside any cluster', () => {
    expect(replicasFor({ clustered: false, servers: undefined })).toBe(1);
  });

  it('is 3 on a cluster of three servers or more, or one that does not advertise its servers', () => {
    expect(replicasFor({ clustered: true, servers: 3 })).toBe(3);
    expect(replicasFor({ clustered: true, servers: 5 })).toBe(3);
    expect(replicasFor({ clustered: true, servers: undefined })).toBe(3);
  });

  it('is 1, not 2, on a cluster of fewer than three servers (an R2 stream stops when either server does)', () => {
    expect(replicasFor({ clustered: true, servers: 2 })).toBe(1);
    expect(replicasFor({ clustered: true, servers: 1 })).toBe(1);
  });
});
