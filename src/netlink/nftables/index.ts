/**
 * nf_tables over NETLINK_NETFILTER: the nfgenmsg header, tables, chains, rules with their expressions,
 * sets and set elements, the ruleset generation, and batches (one transaction per datagram).
 */
import { Family } from '../message.js';
import { nftBatchControl } from './batch.js';
import { nftChain } from './chain.js';
import { nftGen } from './gen.js';
import { nftRule } from './rule.js';
import { nftSet, nftSetElem } from './set.js';
import { nftTable } from './table.js';

export * from './common.js';
export * from './expressions.js';
export * from './table.js';
export * from './chain.js';
export * from './rule.js';
export * from './set.js';
export * from './gen.js';
export * from './batch.js';
export * from './userdata.js';
export * from './format.js';
export * from './intervals.js';

/** NETLINK_NETFILTER, nf_tables subsystem: every message kind this codec knows, by nlmsg type. */
export const nftables = new Family('nftables', [nftTable, nftChain, nftRule, nftSet, nftSetElem, nftGen, nftBatchControl]);
