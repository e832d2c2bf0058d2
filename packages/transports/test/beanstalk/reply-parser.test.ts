import { describe, expect, it } from 'vitest';
import { jobPriority, queueTube, requeuedPriority } from '../../src/beanstalk/jobs.js';
import { ProtocolViolation, parseYamlDict, parseYamlList, ReplyParser } from '../../src/beanstalk/reply-parser.js';

/** A reply with a data block, its length counted. */
const block = (line: string, data: string): Buffer => Buffer.from(`${line} ${Buffer.byteLength(data)}\r\n${data}\r\n`);

const STREAM = Buffer.concat([
  Buffer.from('INSERTED 7\r\n'),
  // A body that itself holds CRLF and a status-like line must be taken by its length, not its lines.
  block('RESERVED 7', 'line\r\nTIMED_OUT\r\n12345'),
  Buffer.from('TIMED_OUT\r\n'),
  block('OK', '---\ncurrent-jobs-ready: 3\n'),
  Buffer.from('FOUND 9 0\r\n\r\n'),
]);

describe('ReplyParser', () => {
  it('reads replies that arrive one byte at a time', () => {
    const parser = new ReplyParser();
    const replies = [];
    for (let i = 0; i < STREAM.length; i++) replies.push(...parser.push(STREAM.subarray(i, i + 1)));
    expect(replies.map((r) => r.status)).toEqual(['INSERTED', 'RESERVED', 'TIMED_OUT', 'OK', 'FOUND']);
    expect(replies[1]?.data?.toString()).toBe('line\r\nTIMED_OUT\r\n12345');
    expect(replies[1]?.args).toEqual(['7', '22']);
    expect(parseYamlDict(replies[3]?.data as Buffer)).toEqual({ 'current-jobs-ready': '3' });
    expect(replies[4]?.data?.length).toBe(0);
  });

  it('reads every reply of one chunk, and keeps a partial one for the next chunk', () => {
    const parser = new ReplyParser();
    const cut = STREAM.indexOf('12345');
    expect(parser.push(STREAM.subarray(0, cut)).map((r) => r.status)).toEqual(['INSERTED']);
    expect(parser.push(STREAM.subarray(cut)).map((r) => r.status)).toEqual(['RESERVED', 'TIMED_OUT', 'OK', 'FOUND']);
  });

  it('refuses a data block not followed by CRLF, a bad length and an endless line', () => {
    expect(() => new ReplyParser().push(Buffer.from('RESERVED 1 2\r\nabcd\r\n'))).toThrow(ProtocolViolation);
    expect(() => new ReplyParser().push(Buffer.from('OK x\r\n'))).toThrow(ProtocolViolation);
    expect(() => new ReplyParser().push(Buffer.alloc(2048, 0x41))).toThrow(ProtocolViolation);
  });

  it('reads YAML lists', () => {
    expect(parseYamlList(Buffer.from('---\n- default\n- a.b\n'))).toEqual(['default', 'a.b']);
  });
});

describe('tubes and priorities', () => {
  it('keeps tube characters, escapes the rest, and never makes a name a reserved tube or a leading hyphen could take', () => {
    expect(queueTube('', 'wakame.quickstart.hipri')).toBe('wakame.quickstart.hipri');
    expect(queueTube('p.', 'a b/(c)$')).toBe('p.a$20b/$28c$29$24');
    expect(queueTube('', 'é')).toBe('$C3$A9');
    expect(queueTube('', '-x')).toBe('$2Dx');
    expect(() => queueTube('', 'q'.repeat(201))).toThrow(/more than 200 bytes/);
  });

  it('serves higher Wakame priorities first, and a requeued message before fresh ones of its priority', () => {
    expect(jobPriority(9, false)).toBeLessThan(jobPriority(8, false));
    expect(jobPriority(9, true)).toBeLessThan(jobPriority(9, false));
    expect(jobPriority(8, true)).toBeGreaterThan(jobPriority(9, false));
    expect(requeuedPriority(jobPriority(0, true))).toBe(true);
    expect(requeuedPriority(jobPriority(255, false))).toBe(false);
    // Another client's default priority is not a requeued Wakame message.
    expect(requeuedPriority(1024)).toBe(false);
  });
});
