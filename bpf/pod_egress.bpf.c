// SPDX-License-Identifier: Apache-2.0
/*
 * Pod egress: attached to the ingress of each pod's host veth, so it sees every frame the pod sends.
 *
 * - The frame must come from the pod's own MAC, and IP packets from one of the pod's own addresses
 *   (looked up in the endpoints maps and checked against this device), else it is dropped and counted.
 * - A packet for a local pod is routed here: TTL/hop limit decremented, Ethernet addresses rewritten
 *   to what the destination pod expects (its own MAC, its gateway's MAC), and redirected into the
 *   destination's netns with bpf_redirect_peer(), skipping the host stack.
 * - Anything else (ARP, ND, multicast, remote destinations) goes on to the kernel.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "layout.h"

char LICENSE[] SEC("license") = "GPL";

enum direction { EGRESS, INGRESS };

static __always_inline void count(__u32 id, enum direction dir, __u32 bytes)
{
	struct endpoint_counters *c = bpf_map_lookup_elem(&counters, &id);

	if (!c)
		return;
	struct traffic *t = dir == EGRESS ? &c->egress : &c->ingress;
	t->packets++;
	t->bytes += bytes;
}

static __always_inline int drop(const struct device *dev)
{
	__u32 id = dev->id;
	struct endpoint_counters *c = bpf_map_lookup_elem(&counters, &id);

	if (c)
		c->egress.drops++;
	return TC_ACT_SHOT;
}

static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) | (a[5] ^ b[5])) == 0;
}

/* A source address belongs to the pod when its entry points at the device the packet came in on. */
static __always_inline int owns(const struct endpoint *ep, __u32 ifindex)
{
	return ep && ep->ifindex == ifindex;
}

static __always_inline int redirect_to(struct __sk_buff *skb, struct ethhdr *eth, const struct endpoint *dst,
				       __u32 src_id)
{
	__builtin_memcpy(eth->h_dest, dst->pod_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, dst->gateway_mac, ETH_ALEN);
	count(src_id, EGRESS, skb->len);
	count(dst->id, INGRESS, skb->len);
	/* bpf_redirect_peer (5.10+) enters the peer's netns without the backlog; older kernels xmit on the veth. */
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_redirect_peer))
		return bpf_redirect_peer(dst->ifindex, 0);
	return bpf_redirect(dst->ifindex, 0);
}

static __always_inline int pass(const struct device *dev, struct __sk_buff *skb)
{
	count(dev->id, EGRESS, skb->len);
	return TC_ACT_OK;
}

static __always_inline int handle_ipv4(struct __sk_buff *skb, struct ethhdr *eth, const struct device *dev)
{
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end)
		return drop(dev);

	if (!(dev->flags & SLUICE_DEVICE_F_ANY_SOURCE)) {
		__be32 saddr = ip->saddr;

		if (!owns(bpf_map_lookup_elem(&endpoints_v4, &saddr), skb->ifindex))
			return drop(dev);
	}

	__be32 daddr = ip->daddr;
	struct endpoint *dst = bpf_map_lookup_elem(&endpoints_v4, &daddr);

	/* TTL 1 goes to the kernel, which answers with ICMP time exceeded. */
	if (!dst || (dst->flags & SLUICE_ENDPOINT_F_KERNEL_PATH) || ip->ttl <= 1)
		return pass(dev, skb);

	/* The TTL decrement's incremental checksum update, as the kernel's ip_decrease_ttl(). */
	__u32 check = (__u32)ip->check + (__u32)bpf_htons(0x0100);
	ip->check = (__sum16)(check + (check >= 0xFFFF));
	ip->ttl--;
	return redirect_to(skb, eth, dst, dev->id);
}

static __always_inline int ipv6_is_multicast(const struct in6_addr *a)
{
	return a->in6_u.u6_addr8[0] == 0xff;
}

static __always_inline int ipv6_is_link_local(const struct in6_addr *a)
{
	return a->in6_u.u6_addr8[0] == 0xfe && (a->in6_u.u6_addr8[1] & 0xc0) == 0x80;
}

static __always_inline int ipv6_is_unspecified(const struct in6_addr *a)
{
	return (a->in6_u.u6_addr32[0] | a->in6_u.u6_addr32[1] | a->in6_u.u6_addr32[2] | a->in6_u.u6_addr32[3]) == 0;
}

static __always_inline int handle_ipv6(struct __sk_buff *skb, struct ethhdr *eth, const struct device *dev)
{
	void *data_end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = (void *)(eth + 1);

	if ((void *)(ip6 + 1) > data_end)
		return drop(dev);

	struct in6_addr saddr = ip6->saddr;
	struct in6_addr daddr = ip6->daddr;

	/* Link-local and unspecified sources (ND, DAD, MLD) are the pod's by its MAC, already checked. */
	int link_scoped_source = ipv6_is_link_local(&saddr) || ipv6_is_unspecified(&saddr);

	if (!(dev->flags & SLUICE_DEVICE_F_ANY_SOURCE) && !link_scoped_source &&
	    !owns(bpf_map_lookup_elem(&endpoints_v6, &saddr), skb->ifindex))
		return drop(dev);

	if (link_scoped_source || ipv6_is_link_local(&daddr) || ipv6_is_multicast(&daddr))
		return pass(dev, skb);

	struct endpoint *dst = bpf_map_lookup_elem(&endpoints_v6, &daddr);

	if (!dst || (dst->flags & SLUICE_ENDPOINT_F_KERNEL_PATH) || ip6->hop_limit <= 1)
		return pass(dev, skb);

	ip6->hop_limit--;
	return redirect_to(skb, eth, dst, dev->id);
}

SEC("tc")
int pod_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 ifindex = skb->ifindex;
	const struct device *dev = bpf_map_lookup_elem(&devices, &ifindex);

	/* Not a device of ours (or its endpoint was removed): the kernel path as if we were not here. */
	if (!dev)
		return TC_ACT_OK;
	if ((void *)(eth + 1) > data_end)
		return drop(dev);
	if (!(dev->flags & SLUICE_DEVICE_F_ANY_SOURCE) && !mac_equal(eth->h_source, dev->pod_mac))
		return drop(dev);

	switch (eth->h_proto) {
	case bpf_htons(ETH_P_IP):
		return handle_ipv4(skb, eth, dev);
	case bpf_htons(ETH_P_IPV6):
		return handle_ipv6(skb, eth, dev);
	default:
		return pass(dev, skb);
	}
}
