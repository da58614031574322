// dagger/src/infra/template-change.ts: which changes of the service stack's template touch its task definition or
// service (then provision passes the running digest), counted through Ref, Fn::GetAtt and Fn::Sub references.
import { describe, expect, it } from "vitest";
import { templateChange } from "../../dagger/src/infra/template-change.js";

const stack = (subnet: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    ...extra,
    Parameters: { ImageDigest: { Type: "String" } },
    Resources: {
      Subnet: { Type: "AWS::EC2::Subnet", Properties: { CidrBlock: subnet } },
      Group: { Type: "AWS::EC2::SecurityGroup", Properties: { Name: { "Fn::Sub": "sg-${Subnet}-${!Literal}" } } },
      TaskDef: { Type: "AWS::ECS::TaskDefinition", Properties: { Image: { "Fn::Sub": "repo@${ImageDigest}" } } },
      Service: { Type: "AWS::ECS::Service", Properties: { TaskDefinition: { Ref: "TaskDef" }, Groups: [{ "Fn::GetAtt": ["Group", "GroupId"] }] } },
      Log: { Type: "AWS::Logs::LogGroup", Properties: { Days: 7 } },
    },
  });

describe("templateChange", () => {
  it("same templates: none; an output only: other; a resource the service reaches through Fn::Sub and Fn::GetAtt: service", () => {
    expect(templateChange(stack("10.0.0.0/24"), stack("10.0.0.0/24"), [])).toEqual({ kind: "none", why: [] });
    expect(templateChange(stack("10.0.0.0/24"), stack("10.0.0.0/24", { Outputs: { X: { Value: "1" } } }), [])).toEqual({ kind: "other", why: [] });
    expect(templateChange(stack("10.0.0.0/24"), stack("10.0.1.0/24"), [])).toEqual({ kind: "service", why: ["Service"] });
  });

  it("a changed parameter value reaches what refers to it; a changed Transform or unreadable template counts as a service change", () => {
    expect(templateChange(stack("a"), stack("a", { Outputs: {} }), ["ImageDigest"])).toEqual({ kind: "service", why: ["TaskDef", "Service"] });
    expect(templateChange(stack("a"), stack("a", { Transform: "AWS::Serverless-2016-10-31" }), []).kind).toBe("service");
    expect(templateChange("Resources: {}", stack("a"), []).kind).toBe("service");
  });
});
