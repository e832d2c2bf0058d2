/**
 * Side-effect module: swaps in Wakame's AMQP table decoder before amqplib loads (see codec.ts).
 * Imported first by the transport so that ES module evaluation order runs it ahead of `amqplib`.
 */
import { installTableDecoder } from './codec.js';

installTableDecoder();
