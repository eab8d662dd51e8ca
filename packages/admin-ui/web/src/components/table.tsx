/** A column heading; numeric columns are right-aligned. */
export interface Column { label: string, num?: boolean }

/** A numeric column. */
export function num (label: string): Column {
  return { label, num: true }
}

/** A table's heading row: plain strings are text columns. */
export function TableHead ({ columns }: { columns: Array<string | Column> }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) => {
          const col = typeof c === 'string' ? { label: c } : c
          return <th key={i} className={col.num === true ? 'num' : undefined}>{col.label}</th>
        })}
      </tr>
    </thead>
  )
}
