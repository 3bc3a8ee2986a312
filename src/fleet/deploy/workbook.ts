/**
 * The EdgeGuard fleet workbook for Microsoft Sentinel / Azure Monitor (fleet/sentinel/EdgeGuardFleet.workbook):
 * alerts by severity, over time, by rule and by device; clicking a device opens its timeline below.
 * Queries read the Log Analytics functions of sentinel-functions.json (the ADX tables by name).
 */

/** Workbook parameters and the sample values the tests substitute before checking the queries. */
export const WORKBOOK_PARAMETERS: Readonly<Record<string, string>> = {
  '{Lookback}': '1d',
  '{SelectedDevice}': 'gateway-0001',
};

const LOG_ANALYTICS = 0;
const WORKSPACE = 'microsoft.operationalinsights/workspaces';

const ALERT_LIST = `EdgeGuardAlerts
| where TimestampUTC > ago({Lookback})
| summarize arg_max(TimestampUTC, *) by AlertId`;

function query(name: string, title: string, text: string, visualization: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { customWidth, ...content } = extra;
  return {
    type: 3,
    name,
    ...(customWidth !== undefined ? { customWidth } : {}),
    content: { version: 'KqlItem/1.0', query: text, size: 0, title, queryType: LOG_ANALYTICS, resourceType: WORKSPACE, visualization, ...content },
  };
}

export function fleetWorkbook(): Record<string, unknown> {
  return {
    version: 'Notebook/1.0',
    items: [
      { type: 1, name: 'title', content: { json: '# EdgeGuard fleet\nAlerts raised on the IoT Edge devices by EdgeGuard, with each device\'s timeline one click away. Data: Azure Data Explorer through the workspace functions of `fleet/deploy/sentinel-functions.json`.' } },
      {
        type: 9,
        name: 'parameters',
        content: {
          version: 'KqlParameterItem/1.0',
          parameters: [
            {
              id: '5e3c9c0e-6f2e-4d55-9a33-0b6a2c1f7d01',
              version: 'KqlParameterItem/1.0',
              name: 'Lookback',
              label: 'Time range',
              type: 2,
              isRequired: true,
              value: '1d',
              jsonData: JSON.stringify([
                { value: '1h', label: 'Last hour' },
                { value: '1d', label: 'Last day' },
                { value: '7d', label: 'Last 7 days' },
                { value: '30d', label: 'Last 30 days' },
              ]),
            },
          ],
          style: 'pills',
          queryType: LOG_ANALYTICS,
          resourceType: WORKSPACE,
        },
      },
      query('severity-tiles', 'Alerts by severity', `${ALERT_LIST}
| summarize Alerts = count(), Devices = dcount(DeviceId) by Severity
| extend Rank = case(Severity == 'High', 3, Severity == 'Medium', 2, 1)
| order by Rank desc`, 'tiles', {
        tileSettings: { titleContent: { columnMatch: 'Severity', formatter: 1 }, leftContent: { columnMatch: 'Alerts', formatter: 12 }, secondaryContent: { columnMatch: 'Devices', formatter: 1 }, showBorder: true },
      }),
      query('alerts-over-time', 'Alerts over time', `${ALERT_LIST}
| summarize Alerts = count() by bin(TimestampUTC, 1h), Severity`, 'timechart'),
      query('top-rules', 'Alert rules', `${ALERT_LIST}
| summarize Alerts = count(), Devices = dcount(DeviceId), LastSeen = max(LastSeen) by RuleId, RuleName, Severity, Tactic, Technique
| order by Alerts desc`, 'table', { customWidth: '50' }),
      query('devices', 'Devices with alerts (select one for its timeline)', `${ALERT_LIST}
| summarize Alerts = count(), High = countif(Severity == 'High'), Medium = countif(Severity == 'Medium'), Low = countif(Severity == 'Low'), LastSeen = max(LastSeen) by DeviceId
| order by High desc, Medium desc, Alerts desc`, 'table', { customWidth: '50', exportFieldName: 'DeviceId', exportParameterName: 'SelectedDevice', exportDefaultValue: '' }),
      {
        type: 3,
        name: 'device-timeline',
        conditionalVisibility: { parameterName: 'SelectedDevice', comparison: 'isNotEqualTo', value: '' },
        content: {
          version: 'KqlItem/1.0',
          title: 'Timeline of {SelectedDevice}',
          queryType: LOG_ANALYTICS,
          resourceType: WORKSPACE,
          visualization: 'table',
          size: 0,
          query: `let device = '{SelectedDevice}';
union
    (EdgeGuardEvents
        | where DeviceId == device and TimestampUTC > ago({Lookback})
        | where Name !in ('SecurityAlert', 'SecurityRecommendation')
        | project TimestampUTC, Kind = 'Event', Name, Severity = '', Summary = substring(tostring(Payload), 0, 300)),
    (EdgeGuardAlerts
        | where DeviceId == device and TimestampUTC > ago({Lookback})
        | project TimestampUTC, Kind = 'Alert', Name = RuleName, Severity, Summary = strcat(DetectionKey, ' (count ', Count, ')')),
    (EdgeGuardRecommendations
        | where DeviceId == device and TimestampUTC > ago({Lookback})
        | project TimestampUTC, Kind = 'Recommendation', Name = RuleName, Severity, Summary = DetectionKey)
| top 2000 by TimestampUTC desc`,
        },
      },
      query('silent', 'Silent devices (no message for 72 hours)', `EdgeGuardRaw
| where EnqueuedTime > ago(14d)
| summarize LastMessage = max(EnqueuedTime) by DeviceId, ModuleId
| where LastMessage < ago(72h)
| order by LastMessage asc`, 'table', { customWidth: '50' }),
      query('manifest', 'Deployment manifest findings across the fleet', `EdgeGuardManifestFindings
| where TimestampUTC > ago({Lookback})
| summarize arg_max(TimestampUTC, *) by DeviceId, RuleId, Module, Path
| summarize Devices = dcount(DeviceId), Title = take_any(Title) by RuleId, Severity, Module, Path
| order by Devices desc`, 'table', { customWidth: '50' }),
    ],
    fallbackResourceIds: [],
    $schema: 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json',
  };
}
