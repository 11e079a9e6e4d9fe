/* Generated from src/bpf/layout.ts by scripts/build-bpf.sh: do not edit. */
#ifndef SLUICE_LAYOUT_H
#define SLUICE_LAYOUT_H

#include <linux/bpf.h>
#include <linux/in6.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

_Static_assert(BPF_MAP_TYPE_HASH == 1, "map type hash");
_Static_assert(BPF_MAP_TYPE_PERCPU_ARRAY == 6, "map type percpuArray");

#define SLUICE_MAX_ENDPOINTS 4096U

#define SLUICE_ENDPOINT_F_KERNEL_PATH 1U
#define SLUICE_DEVICE_F_ANY_SOURCE 1U

struct endpoint {
	__u32 ifindex;
	__u32 id;
	__u8 pod_mac[6];
	__u8 gateway_mac[6];
	__u32 flags;
};
_Static_assert(sizeof(struct endpoint) == 24, "struct endpoint: size");
_Static_assert(__builtin_offsetof(struct endpoint, ifindex) == 0, "struct endpoint: ifindex");
_Static_assert(__builtin_offsetof(struct endpoint, id) == 4, "struct endpoint: id");
_Static_assert(__builtin_offsetof(struct endpoint, pod_mac) == 8, "struct endpoint: pod_mac");
_Static_assert(__builtin_offsetof(struct endpoint, gateway_mac) == 14, "struct endpoint: gateway_mac");
_Static_assert(__builtin_offsetof(struct endpoint, flags) == 20, "struct endpoint: flags");

struct device {
	__u32 id;
	__u32 flags;
	__u8 pod_mac[6];
};
_Static_assert(sizeof(struct device) == 16, "struct device: size");
_Static_assert(__builtin_offsetof(struct device, id) == 0, "struct device: id");
_Static_assert(__builtin_offsetof(struct device, flags) == 4, "struct device: flags");
_Static_assert(__builtin_offsetof(struct device, pod_mac) == 8, "struct device: pod_mac");

struct traffic {
	__u64 packets;
	__u64 bytes;
	__u64 drops;
};
_Static_assert(sizeof(struct traffic) == 24, "struct traffic: size");
_Static_assert(__builtin_offsetof(struct traffic, packets) == 0, "struct traffic: packets");
_Static_assert(__builtin_offsetof(struct traffic, bytes) == 8, "struct traffic: bytes");
_Static_assert(__builtin_offsetof(struct traffic, drops) == 16, "struct traffic: drops");

struct endpoint_counters {
	struct traffic egress;
	struct traffic ingress;
};
_Static_assert(sizeof(struct endpoint_counters) == 48, "struct endpoint_counters: size");
_Static_assert(__builtin_offsetof(struct endpoint_counters, egress) == 0, "struct endpoint_counters: egress");
_Static_assert(__builtin_offsetof(struct endpoint_counters, ingress) == 24, "struct endpoint_counters: ingress");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __be32);
	__type(value, struct endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} endpoints_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct in6_addr);
	__type(value, struct endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} endpoints_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct device);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} devices SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct endpoint_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

#endif
