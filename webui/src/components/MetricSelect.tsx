// The "Metric" picker of a learning-curve chart: one option per (group, metric) pair, labelled as the charts are.
import { metricLabel } from '../format';

export function MetricSelect(props: {
  group: string;
  metric: string;
  options: Array<[string, string]>;
  onChange: (group: string, metric: string) => void;
  testId: string;
}) {
  return (
    <label className="field">
      Metric
      <select
        className="input"
        value={`${props.group}\u0000${props.metric}`}
        onChange={(e) => {
          const [g, m] = e.target.value.split('\u0000');
          props.onChange(g!, m!);
        }}
        data-testid={props.testId}
      >
        {props.options.map(([g, m]) => (
          <option key={`${g}:${m}`} value={`${g}\u0000${m}`}>
            {metricLabel(g, m)}
          </option>
        ))}
      </select>
    </label>
  );
}
