import { describe, expect, it } from "vitest";
import { nonPublicAddress, parseIPv4, privateAddressEgress } from "../../src/index.js";

const check = (u: string) => privateAddressEgress.check(new URL(u));

describe("privateAddressEgress", () => {
  it("parses IPv4 in every spelling inet_aton accepts", () => {
    for (const s of [
      "127.0.0.1",
      "2130706433",
      "0x7f000001",
      "0177.0.0.1",
      "0x7f.1",
      "127.1",
      "017700000001",
    ])
      expect(parseIPv4(s), s).toEqual([127, 0, 0, 1]);
    for (const s of ["169.254.169.254", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518"])
      expect(parseIPv4(s), s).toEqual([169, 254, 169, 254]);
    expect(parseIPv4("256.1.1.1")).toBeNull();
    expect(parseIPv4("example.com")).toBeNull();
  });

  it("blocks the cloud metadata endpoint however it is written, IPv6-mapped included", () => {
    for (const host of [
      "169.254.169.254",
      "2852039166",
      "0xa9fea9fe",
      "0251.0376.0251.0376",
      "[::ffff:169.254.169.254]",
      "[::ffff:a9fe:a9fe]",
      "[0:0:0:0:0:ffff:a9fe:a9fe]",
      "metadata.google.internal",
      "100.100.100.200",
      "[fd00:ec2::254]",
    ]) {
      const v = check(`http://${host}/latest/meta-data/`);
      expect(v, host).toMatchObject({ allowed: false, level: "BLOCK", rule: "egress:metadata" });
    }
  });

  it("denies loopback and private addresses (HIGH: approval needed) in every spelling", () => {
    for (const host of [
      "127.0.0.1",
      "2130706433",
      "0x7f.1",
      "127.1",
      "localhost",
      "[::1]",
      "[::ffff:127.0.0.1]",
      "10.1.2.3",
      "192.168.0.1",
      "172.16.5.4",
      "[fd00::1]",
      "[fe80::1]",
      "0.0.0.0",
    ]) {
      const v = check(`http://${host}:8080/`);
      expect(v, host).toMatchObject({ allowed: false, level: "HIGH", rule: "egress:private-address" });
    }
  });

  it("allows public hosts and addresses", () => {
    for (const host of ["example.com", "93.184.216.34", "[2606:2800:220:1::]", "172.32.0.1"])
      expect(check(`https://${host}/`).allowed, host).toBe(true);
    expect(nonPublicAddress("8.8.8.8")).toBeNull();
  });
});
