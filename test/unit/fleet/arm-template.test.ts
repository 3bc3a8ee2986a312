import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ARM_TEMPLATE, armTemplateText, FUNCTIONS_SCRIPT, TABLES_SCRIPT } from '../../../src/fleet/adx/generate';
import { API_VERSIONS } from '../../../src/fleet/deploy/arm-template';
import { armValidator, resourceErrors } from './arm-schemas';
import { REPO_ROOT } from './fixtures';

type Json = Record<string, unknown>;

const templateFile = path.join(REPO_ROOT, ARM_TEMPLATE);

describe('fleet/deploy/azuredeploy.json', () => {
  test('is what `npm run fleet:generate` makes from the ADX scripts', () => {
    const text = armTemplateText(readFileSync(path.join(REPO_ROOT, TABLES_SCRIPT), 'utf8'), readFileSync(path.join(REPO_ROOT, FUNCTIONS_SCRIPT), 'utf8'));
    assert.equal(readFileSync(templateFile, 'utf8'), text);
  });

  test('validates against the published deployment template and resource provider schemas', () => {
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as { resources: Json[] };
    assert.deepEqual(armValidator()(template), []);
    for (const r of template.resources) assert.deepEqual(resourceErrors(r), [], String(r.type));
    const types = template.resources.map((r) => r.type);
    for (const t of ['Microsoft.Devices/IotHubs', 'Microsoft.EventHub/namespaces/eventhubs', 'Microsoft.Kusto/clusters', 'Microsoft.Kusto/clusters/databases', 'Microsoft.Kusto/clusters/databases/dataConnections', 'Microsoft.Kusto/clusters/databases/scripts']) assert.ok(types.includes(t), t);
    for (const r of template.resources) assert.equal(r.apiVersion, API_VERSIONS[String(r.type).split('/')[0] as keyof typeof API_VERSIONS]);
  });

  test('the validation can fail: a wrong type, a wrong enum value and an unknown API version are caught', () => {
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as { resources: Array<Json & { properties: Json }> };
    const hub = template.resources.find((r) => r.type === 'Microsoft.Devices/IotHubs')!;
    const routing = hub.properties.routing as { routes: Json[] };
    routing.routes[0]!.source = 'DeviceMesages';
    assert.ok(resourceErrors(hub).length > 0);
    assert.ok(armValidator()(template).length > 0);
    const eh = template.resources.find((r) => r.type === 'Microsoft.EventHub/namespaces/eventhubs')!;
    // The provider schemas do not forbid unknown properties: a wrong type is what they catch.
    assert.ok(resourceErrors({ ...eh, properties: { ...eh.properties, partitionCount: 'four' } }).length > 0);
    assert.ok(armValidator()({ ...template, resources: [{ ...eh, apiVersion: '2099-01-01' }] }).length > 0);
  });

  test('the route selects EdgeGuard by module id into the Event Hub and the built-in endpoint; ADX gets device and module ids', () => {
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as { variables: Json; parameters: Json; resources: Array<Json & { properties: Json }> };
    assert.equal(template.variables.routeCondition, "[concat('$connectionModuleId = ''', parameters('edgeGuardModuleId'), '''')]");
    const hub = template.resources.find((r) => r.type === 'Microsoft.Devices/IotHubs')!;
    const routes = (hub.properties.routing as { routes: Array<{ endpointNames: string[] }> }).routes;
    assert.deepEqual(routes.map((r) => r.endpointNames[0]), ['edgeguard-eventhub', 'events']);
    const dc = template.resources.find((r) => r.type === 'Microsoft.Kusto/clusters/databases/dataConnections')!;
    assert.deepEqual(dc.properties.eventSystemProperties, ['iothub-enqueuedtime', 'iothub-connection-device-id', 'iothub-connection-module-id', 'message-id']);
    assert.deepEqual(Object.keys(template.parameters), ['namePrefix', 'location', 'edgeGuardModuleId', 'iotHubSku', 'iotHubUnits', 'eventHubThroughputUnits', 'adxSkuName', 'adxCapacity']);
  });
});
