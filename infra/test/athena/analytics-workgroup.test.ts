import { beforeAll, describe, expect, it } from 'vitest';
import { NAMED_QUERIES } from '../../src/athena/queries.js';
import { joined, resourcesOf, type Synthesized, synth } from '../support/synth.js';

let synthesized: Synthesized;
beforeAll(() => {
  synthesized = synth({ athenaBytesScannedCutoff: String(5 * 1024 ** 3) });
});

describe('Athena workgroup', () => {
  it('enforces an encrypted result location, engine v3 and a bytes-scanned cutoff', () => {
    const [workgroup] = Object.values(resourcesOf(synthesized.lakeTemplate, 'AWS::Athena::WorkGroup'));
    const configuration = workgroup?.Properties.WorkGroupConfiguration as {
      EnforceWorkGroupConfiguration: boolean;
      BytesScannedCutoffPerQuery: number;
      EngineVersion: { SelectedEngineVersion: string };
      ResultConfiguration: {
        OutputLocation: unknown;
        EncryptionConfiguration: { EncryptionOption: string; KmsKey: unknown };
      };
    };
    expect(workgroup?.Properties.Name).toBe('genai-pipeline');
    expect(configuration.EnforceWorkGroupConfiguration).toBe(true);
    expect(configuration.BytesScannedCutoffPerQuery).toBe(5 * 1024 ** 3);
    expect(configuration.EngineVersion.SelectedEngineVersion).toBe('Athena engine version 3');
    expect(joined(configuration.ResultConfiguration.OutputLocation)).toBe('s3://<token>/athena-results/');
    expect(configuration.ResultConfiguration.EncryptionConfiguration.EncryptionOption).toBe('SSE_KMS');
    expect(configuration.ResultConfiguration.EncryptionConfiguration.KmsKey).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^StorageKey/), 'Arn'],
    });
  });

  it('saves every named query, verbatim, against the lake database in the workgroup', () => {
    const saved = Object.values(resourcesOf(synthesized.lakeTemplate, 'AWS::Athena::NamedQuery')).map(
      (query) => query.Properties,
    );
    expect(saved).toHaveLength(NAMED_QUERIES.length);
    for (const query of NAMED_QUERIES) {
      expect(saved).toContainEqual({
        Name: query.name,
        Description: query.description,
        Database: 'genai_pipeline',
        WorkGroup: 'genai-pipeline',
        QueryString: query.sql,
      });
    }
  });
});
